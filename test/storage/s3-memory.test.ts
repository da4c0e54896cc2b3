import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openObjectStore } from '../../src/storage/open-object-store.ts';
import { startS3ServerProcess } from '../support/s3-server.ts';
import { generate, MiB } from './streams.ts';

// In a file of its own, so the process's memory is not shaped by other tests.
test('keeps memory bounded by part size × queue size while streaming 200 MiB to S3', async () => {
  // The server runs in a child process, so only the uploading side is measured.
  const server = await startS3ServerProcess();
  const store = await openObjectStore(server.url('memory', { part_size: '5MiB', queue_size: '4' }), server.env);
  try {
    // Warm up first, so code loaded lazily by the SDK and the server does not count as growth.
    await store.upload('warm-up/1.dump', generate(12 * MiB).stream);
    const before = process.memoryUsage().rss;
    let peak = before;
    const sample = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
    const source = generate(200 * MiB);
    const result = await store.upload('big/1.dump', source.stream, { sizeEstimate: 100 * MiB });
    clearInterval(sample);
    peak = Math.max(peak, process.memoryUsage().rss);

    assert.equal(result.bytes, 200 * MiB);
    assert.equal(result.sha256, source.produced().sha256);
    // The budget is partSize × (queueSize + 2) = 30 MiB. On top of it comes garbage: V8 frees
    // dead Buffers lazily, starting a collection only after ~64 MiB of new external memory, so
    // 50–75 MiB of growth is normal here. Holding the stream, or chunks of it (aws-sdk-js-v3
    // #8286), would grow with its 200 MiB.
    const growth = peak - before;
    assert.ok(growth < 100 * MiB, `rss grew by ${(growth / MiB).toFixed(1)} MiB while streaming 200 MiB`);
  } finally {
    await store.close();
    await server.close();
  }
});
