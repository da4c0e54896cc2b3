import { GetObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { MultipartWriter, type Send } from '../../../src/storage/s3-multipart.ts';
import { startS3Server, type TestS3Server } from '../../support/s3-server.ts';
import { generate, MiB } from '../../support/streams.ts';

let server: TestS3Server;
before(async () => {
  server = await startS3Server();
});
after(() => server.close());

test('uploads at most queueSize parts at once, from queueSize + 1 part buffers, however long the stream', async () => {
  const client = server.client();
  const realSend = client.send.bind(client) as Send;
  let inFlight = 0;
  let mostInFlight = 0;
  const backingStores = new Set<ArrayBufferLike>();
  const send: Send = async (command, options) => {
    if (!(command instanceof UploadPartCommand)) return realSend(command, options);
    backingStores.add((command.input.Body as Buffer).buffer);
    inFlight += 1;
    mostInFlight = Math.max(mostInFlight, inFlight);
    try {
      return await realSend(command, options);
    } finally {
      inFlight -= 1;
    }
  };
  const queueSize = 2;
  const writer = new MultipartWriter({
    send,
    bucket: server.bucket,
    key: 'pool/1.dump',
    params: { ContentType: 'application/octet-stream' },
    partSize: 5 * MiB,
    queueSize,
    partChecksums: false,
    signal: new AbortController().signal,
    encryptionProblem: () => null,
  });
  const source = generate(61 * MiB);
  await pipeline(source.stream, writer);

  const parts = server.requests.filter((r) => r.operation === 'UploadPart' && r.key === 'pool/1.dump');
  assert.equal(parts.length, 13, '12 full parts and the rest');
  assert.equal(mostInFlight, queueSize);
  assert.ok(backingStores.size <= queueSize + 1, `${backingStores.size} part buffers for 13 parts`);
  const object = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: 'pool/1.dump' }));
  const stored = Buffer.from(await object.Body!.transformToByteArray());
  assert.equal(stored.length, 61 * MiB);
  assert.equal(createHash('sha256').update(stored).digest('hex'), source.produced().sha256);
});
