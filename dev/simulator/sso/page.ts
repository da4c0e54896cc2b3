import { escapeHtml, htmlPage } from '../html.ts';
import type { SsoForm } from './form.ts';

/** The page Heroku's dashboard serves: a form that posts itself to the provider's sso_url. */
export function autoSubmitPage(form: SsoForm): string {
  const inputs = Object.entries(form.params)
    .map(([name, value]) => `  <input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  return htmlPage(
    'Signing in…',
    `<form id="sso" method="post" action="${escapeHtml(form.action)}">
${inputs}
  <noscript><button type="submit">Continue to the add-on</button></noscript>
</form>
<p class="note">Signing you in to the add-on…</p>
<script>document.getElementById('sso').submit();</script>`,
  );
}
