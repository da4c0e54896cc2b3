/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Wraps a body in the simulator's minimal page layout. */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
  table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  form.inline { display: inline; } button { cursor: pointer; } code { font-size: .9em; }
  .note { color: #666; font-size: .9em; } .flash { background: #eef6ff; padding: .5rem .75rem; border-radius: 4px; }
  .state-provisioned { color: #17663a; } .state-provisioning { color: #8a5a00; } .state-deprovisioned { color: #999; }
</style>
</head>
<body>
${body}
</body>
</html>
`;
}
