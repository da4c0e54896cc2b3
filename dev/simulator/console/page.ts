import type { SimContext } from '../context.ts';
import { escapeHtml as e, htmlPage } from '../html.ts';
import type { SimAddon, SimApp } from '../state/types.ts';

/** The console: apps and their add-ons, with provision / SSO / plan change / deprovision buttons. */
export function consolePage(ctx: SimContext, flash: string | null): string {
  const apps = [...ctx.store.apps.values()];
  const service = ctx.options.addon;
  const body = `
<h1>Heroku simulator · ${e(service.name)}</h1>
<p class="note">Plays api.heroku.com and id.heroku.com at <code>${e(ctx.url)}</code>. Provider: <code>${e(service.baseUrl)}</code>, SSO: <code>${e(service.ssoUrl)}</code>.</p>
${flash ? `<p class="flash">${e(flash)}</p>` : ''}
<h2>Provision a demo add-on</h2>
<form method="post" action="/_sim/provision">
  <label>App <input name="app" placeholder="new app" value="${e(ctx.options.consoleApp)}"></label>
  <label>Plan <input name="plan" value="basic" size="10"></label>
  <label>--database <input name="database" placeholder="DATABASE" size="14"></label>
  <button type="submit">heroku addons:create ${e(service.id)}</button>
</form>
${apps.length === 0 ? '<p class="note">No apps yet.</p>' : apps.map((app) => appSection(ctx, app)).join('\n')}
${violationsSection(ctx)}
<p class="note"><a href="/_sim/state">state as JSON</a> · <a href="/_sim/log">log as JSON</a></p>`;
  return htmlPage('Heroku simulator', body);
}

function appSection(ctx: SimContext, app: SimApp): string {
  const addons = [...ctx.store.addons.values()].filter((a) => a.appId === app.id);
  const owner = ctx.store.users.get(app.ownerId)?.email ?? '?';
  const vars = Object.keys(app.configVars);
  return `
<h2>App ${e(app.name)}</h2>
<p class="note">owner ${e(owner)} · ${app.collaboratorIds.length} collaborator(s) · release v${app.releases.length} · config vars: ${vars.length ? vars.map((v) => `<code>${e(v)}</code>`).join(', ') : 'none'}</p>
<table>
<tr><th>Add-on</th><th>Plan</th><th>State</th><th>Provider id</th><th></th></tr>
${addons.map((addon) => (addon.postgres ? postgresRow(ctx, addon) : addonRow(addon))).join('\n') || '<tr><td colspan="5" class="note">no add-ons</td></tr>'}
</table>`;
}

function addonRow(addon: SimAddon): string {
  const live = addon.state !== 'deprovisioned';
  const actions = live
    ? `
    <a href="/sso/${e(addon.id)}" target="_blank"><button type="button">Open dashboard (SSO)</button></a>
    <form class="inline" method="post" action="/_sim/addons/${e(addon.id)}/plan"><input name="plan" size="8" placeholder="plan"><button type="submit">Change plan</button></form>
    <form class="inline" method="post" action="/_sim/addons/${e(addon.id)}/deprovision"><button type="submit">Deprovision</button></form>`
    : '';
  return `<tr>
  <td>${e(addon.name)}<br><code class="note">${e(addon.id)}</code>${addon.failure ? `<br><span class="note">${e(addon.failure)}</span>` : ''}</td>
  <td>${e(addon.plan)}</td>
  <td class="state-${e(addon.state)}">${e(addon.state)}${addon.pendingDeprovision ? ' (deprovision pending)' : ''}</td>
  <td><code>${e(addon.providerId ?? '—')}</code></td>
  <td>${actions}</td>
</tr>`;
}

function postgresRow(ctx: SimContext, addon: SimAddon): string {
  const source = addon.postgres?.forkOf ? ctx.store.addons.get(addon.postgres.forkOf) : undefined;
  const origin = source
    ? `fork of ${e(source.name)}`
    : addon.postgres?.origin === 'attached'
      ? 'an existing database, attached'
      : 'new database';
  return `<tr>
  <td>${e(addon.name)}<br><code class="note">${e(addon.id)}</code>${addon.failure ? `<br><span class="note">${e(addon.failure)}</span>` : ''}</td>
  <td>heroku-postgresql:${e(addon.plan)}</td>
  <td class="state-${e(addon.state)}">${e(addon.state)}</td>
  <td class="note">${origin}<br>database <code>${e(addon.postgres?.databaseName ?? '')}</code></td>
  <td></td>
</tr>`;
}

function violationsSection(ctx: SimContext): string {
  const recent = ctx.log.violations.slice(-20).reverse();
  if (recent.length === 0) return '<h2>Contract violations</h2><p class="note">None so far.</p>';
  return `<h2>Contract violations</h2><ul>${recent.map((v) => `<li><code>${e(v.kind)}</code> ${e(v.message)}</li>`).join('')}</ul>`;
}
