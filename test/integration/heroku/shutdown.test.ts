import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestApp } from '../../support/app.ts';
import { provisionBody } from '../../support/addon-manager.ts';

const app = await startTestApp();

test('a request in flight when the web process stops (a deploy) is answered, not reset', async () => {
  const body = Buffer.from(JSON.stringify(provisionBody()));
  const auth = Buffer.from(`big-backup:${app.config.HEROKU_ADDON_PASSWORD}`).toString('base64');
  const request = http.request(`${app.url}/heroku/resources`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: `Basic ${auth}` },
  });
  const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
    request.on('response', (response) => {
      let text = '';
      response
        .setEncoding('utf8')
        .on('data', (chunk: string) => {
          text += chunk;
        })
        .on('end', () => resolve({ status: response.statusCode!, text }));
    });
    request.on('error', reject);
  });
  // Heroku's add-on manager is half-way through sending a provision when SIGTERM arrives.
  request.write(body.subarray(0, 20));
  await sleep(200);
  const stopped = app.stop();
  await sleep(300);
  request.end(body.subarray(20));
  const { status, text } = await answered;
  const answeredAt = Date.now();
  assert.equal(status, 200, text);
  await stopped;
  assert.ok(Date.now() - answeredAt < 5_000, `stopped ${Date.now() - answeredAt} ms after the answer`);
});
