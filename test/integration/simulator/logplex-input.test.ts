import test from 'node:test';
import assert from 'node:assert/strict';
import { useSimulator } from './support/harness.ts';

const t = useSimulator();

/** An octet-counted RFC 5424 frame, as an add-on partner writes one. */
const frame = (token: string, message: string) => {
  const packet = `<190>1 2026-12-06T10:00:00.000Z ${token} app big-backup - - ${message}`;
  return `${Buffer.byteLength(packet)} ${packet}`;
};

async function post(logInputUrl: string, body: string, headers: Record<string, string> = {}) {
  const url = new URL(logInputUrl);
  const auth = Buffer.from(`${url.username}:${url.password}`).toString('base64');
  url.username = '';
  url.password = '';
  return fetch(url, {
    method: 'POST',
    body,
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/logplex-1', ...headers },
  });
}

test("the provision request's log_input_url leads to the simulator, which records each frame under the app", async () => {
  const { sim } = t;
  const outcome = await sim.provision({ app: 'logged-app' });
  const logInputUrl = outcome.requestBody.log_input_url as string;
  assert.ok(logInputUrl.startsWith(sim.url.replace('http://', `http://token:t.${outcome.uuid}@`)));
  const token = `t.${outcome.uuid}`;
  const answer = await post(logInputUrl, frame(token, 'first line') + frame(token, 'second, with ünïcode'), {
    'logplex-msg-count': '2',
    'user-agent': 'big-backup (test)',
  });
  assert.equal(answer.status, 204);
  const lines = sim.logLines('logged-app');
  assert.deepEqual(
    lines.map((line) => [line.hostname, line.appName, line.procId, line.message]),
    [
      [token, 'app', 'big-backup', 'first line'],
      [token, 'app', 'big-backup', 'second, with ünïcode'],
    ],
  );
  assert.equal(lines[0]!.userAgent, 'big-backup (test)');
});

test('the Logplex input refuses a wrong token, a wrong content type, a bad length and a wrong count', async () => {
  const { sim } = t;
  const outcome = await sim.provision({ app: 'refusing-app' });
  const logInputUrl = outcome.requestBody.log_input_url as string;
  const token = `t.${outcome.uuid}`;
  const wrongToken = new URL(logInputUrl);
  wrongToken.password = 't.00000000-0000-0000-0000-000000000000';
  assert.equal((await post(wrongToken.toString(), frame(token, 'x'))).status, 401);
  assert.equal((await post(logInputUrl, frame(token, 'x'), { 'content-type': 'text/plain' })).status, 415);
  assert.equal((await post(logInputUrl, frame(token, 'x').replace(/^\d+/, '999'))).status, 400);
  assert.equal((await post(logInputUrl, frame(token, 'x'), { 'logplex-msg-count': '2' })).status, 400);
  assert.deepEqual(sim.logLines('refusing-app'), []);
});
