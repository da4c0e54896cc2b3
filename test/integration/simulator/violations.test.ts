import test from 'node:test';
import assert from 'node:assert/strict';
import { useSimulator } from './support/harness.ts';

// Long enough for a cold first request on a busy CI machine, short enough to test the timeout quickly.
const t = useSimulator({ requestTimeoutMs: 1500 });

/** Makes the provider answer its next provisions with `answer` (restored afterwards). */
async function withProvisionAnswer<T>(answer: (req: any, res: any) => void, fn: () => Promise<T>): Promise<T> {
  t.provider.override = (req, res) => {
    if (req.method !== 'POST') return false;
    answer(req, res);
    return true;
  };
  try {
    return await fn();
  } finally {
    t.provider.override = null;
  }
}

test('a non-JSON provision answer is reported as a violation and fails the provision', async () => {
  const { sim } = t;
  const outcome = await withProvisionAnswer(
    (_req, res) => res.status(200).type('html').send('<h1>OK</h1>'),
    () => sim.provision({ app: 'html-app' }),
  );
  assert.equal(outcome.status, 200);
  assert.equal(outcome.result, 'failed');
  assert.deepEqual(
    outcome.violations.map((v) => v.kind),
    ['non-json-response'],
  );
  assert.equal(outcome.call.responseText, '<h1>OK</h1>');
  assert.equal(sim.addon(outcome.uuid)!.state, 'deprovisioned');
  assert.deepEqual(sim.app('html-app')!.configVars, {});
});

test('a non-JSON error answer (e.g. a plain-text 401) is reported too', async () => {
  const { sim } = t;
  const exchange = await withProvisionAnswer(
    (_req, res) => res.status(401).send('Unauthorized'),
    () => sim.sendToProvider({ method: 'POST', body: {}, auth: 'wrong' }),
  );
  assert.equal(exchange.call.status, 401);
  assert.deepEqual(
    exchange.violations.map((v) => v.kind),
    ['non-json-response'],
  );
});

test('a provider slower than the request timeout is reported and the provision fails', async () => {
  const { sim } = t;
  const outcome = await withProvisionAnswer(
    (req, res) => setTimeout(() => res.json({ id: req.body.uuid }), 4000),
    () => sim.provision(),
  );
  assert.equal(outcome.status, null);
  assert.equal(outcome.call.error, 'timeout');
  assert.equal(outcome.result, 'failed');
  assert.deepEqual(
    outcome.violations.map((v) => v.kind),
    ['timeout'],
  );
});

test('a provision answer without an id is reported', async () => {
  const { sim } = t;
  const outcome = await withProvisionAnswer(
    (_req, res) => res.json({ config: {} }),
    () => sim.provision(),
  );
  assert.equal(outcome.result, 'failed');
  assert.deepEqual(
    outcome.violations.map((v) => v.kind),
    ['invalid-provision-response'],
  );
});

test('a 5xx on a replay of a successful provision is reported as not idempotent and leaves the add-on alone', async () => {
  const { sim } = t;
  const first = await sim.provision();
  const [replay] = await withProvisionAnswer(
    (_req, res) => res.status(500).json({ message: 'duplicate key' }),
    () => sim.replayProvision(first.uuid),
  );
  assert.equal(replay!.status, 500);
  assert.deepEqual(
    replay!.violations.map((v) => v.kind),
    ['replay-not-idempotent'],
  );
  assert.equal(sim.addon(first.uuid)!.state, 'provisioned');
});

test('concurrent identical provisions that get different answers are reported', async () => {
  const { sim } = t;
  let n = 0;
  const outcomes = await withProvisionAnswer(
    (req, res) => (n++ === 0 ? res.json({ id: req.body.uuid }) : res.status(500).json({ message: 'unique violation' })),
    () => sim.provisionConcurrently({}, 2),
  );
  assert.deepEqual(outcomes.map((o) => o.status).sort(), [200, 500]);
  assert.ok(sim.log.violations.some((v) => v.kind === 'replay-not-idempotent' && v.addonId === outcomes[0]!.uuid));
});

test('a 422 provision refusal is a failure but not a violation', async () => {
  const { sim } = t;
  const outcome = await withProvisionAnswer(
    (_req, res) => res.status(422).json({ message: 'big-backup is not available in region tokyo' }),
    () => sim.provision({ region: 'tokyo' }),
  );
  assert.equal(outcome.result, 'failed');
  assert.equal(outcome.failure, 'the provider answered 422: big-backup is not available in region tokyo');
  assert.deepEqual(outcome.violations, []);
  assert.equal(outcome.requestBody.region, 'amazon-web-services::ap-northeast-1');
});

test('a refused connection is reported', async () => {
  const { sim, provider } = t;
  await provider.stop();
  try {
    const outcome = await sim.provision();
    assert.equal(outcome.call.error, 'network');
    assert.deepEqual(
      outcome.violations.map((v) => v.kind),
      ['connection-failed'],
    );
  } finally {
    // the provider stays stopped; this is the last test of the file
  }
});
