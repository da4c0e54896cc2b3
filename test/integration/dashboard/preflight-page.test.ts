import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, apiCall } from '../../support/stack.ts';
import { provisionedResource, signedInBrowser } from '../../support/factories.ts';
import { startSourceServer } from '../../support/seed-source.ts';
import { RISKY, seedRiskyDatabase } from '../../support/risky-database.ts';

// The report page and the dashboard's summary line. No worker: the report comes from "Check now".
const server = await startSourceServer();
after(() => server.stop());
const stack = await startStack({ worker: false });
const { app } = stack;
const riskyUrl = await seedRiskyDatabase(server, 'risky');

/** The findings on a report page, as `code:severity` in page order, each with its title and advice. */
/** A new add-on (its app not awaited: no worker here) and its first user, an admin, signed in. */
async function admin() {
  const { uuid } = await provisionedResource(stack, { awaitApp: false });
  return { uuid, browser: await signedInBrowser(stack, uuid) };
}

function findingsOn(page: string) {
  return [
    ...page.matchAll(
      /<li class="finding finding-(\w+)" data-code="(\w+)">\s*<span class="badge badge-\1">\1<\/span> <strong class="title">([^<]*)<\/strong>\s*<p class="advice">([^<]*)<\/p>/g,
    ),
  ].map(([, severity, code, title, advice]) => ({ severity, code, title, advice }));
}

test('Check now stores a report; the page shows each finding with its severity and advice, most severe first', async () => {
  const { uuid, browser } = await admin();
  const put = await apiCall(app.url, 'PUT', '/source', {
    browser,
    csrf: await browser.csrfToken(),
    body: { url: riskyUrl },
  });
  assert.equal(put.status, 200);
  const before = await (await browser.request('GET', '/preflight')).text();
  assert.match(before, /No report yet/);

  const checked = await browser.submit('/preflight');
  assert.equal(checked.status, 303);
  assert.equal(checked.headers.get('location'), '/preflight');
  const page = await (await browser.request('GET', '/preflight')).text();
  assert.match(page, /Checked <time[^>]*>[^<]+<\/time>\s*on request/);
  const findings = findingsOn(page);
  const codes = findings.map((f) => `${f.code}:${f.severity}`);
  for (const expected of [
    'many_schemas:warning',
    'large_objects:warning',
    'heroku_ext_extensions:warning',
    'unlogged_tables:info',
    'roles_and_grants:info',
    'expected_duration:info',
    'server_version:info',
  ])
    assert.ok(codes.includes(expected), `${expected} in ${codes.join(', ')}`);
  const rank = (s: string) => ['critical', 'warning', 'info'].indexOf(s);
  assert.deepEqual(
    findings.map((f) => rank(f.severity!)),
    findings.map((f) => rank(f.severity!)).sort((a, b) => a - b),
  );
  for (const f of findings) assert.ok(f.advice!.length > 30, `${f.code} has advice on the page`);
  assert.ok(findings.some((f) => f.title!.includes(RISKY.role)));

  // The dashboard sums it up in one line, with the link.
  const dashboard = await (await browser.request('GET', '/dashboard')).text();
  const summary = /<p class="preflight-summary">([\s\S]*?)<\/p>/.exec(dashboard)?.[1]?.replace(/\s+/g, ' ');
  assert.ok(summary, 'the dashboard has the summary line');
  assert.match(summary, /<span class="badge badge-warning">pre-flight<\/span> 3 warnings · checked <time/);
  assert.match(summary, /<a href="\/preflight">see the report<\/a>/);

  // A member who is not an admin sees the report, without the button, and cannot run a check.
  const viewer = await signedInBrowser(stack, uuid, 'viewer@example.com');
  const viewed = await (await viewer.request('GET', '/preflight')).text();
  assert.equal(findingsOn(viewed).length, findings.length);
  assert.doesNotMatch(viewed, /Check now/);
  assert.equal((await viewer.submit('/preflight')).status, 403);
});

test('with no database chosen, the page says so, and Check now explains what to do first', async () => {
  const { browser } = await admin();
  const dashboard = await (await browser.request('GET', '/dashboard')).text();
  assert.doesNotMatch(dashboard, /preflight-summary/, 'no summary before any report');
  const refused = await browser.submit('/preflight');
  assert.equal(refused.status, 409);
  assert.match(await refused.text(), /There is no database to check yet: set a database URL or connect Heroku first\./);
});
