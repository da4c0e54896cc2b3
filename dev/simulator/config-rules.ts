import type { ResolvedOptions } from './options.ts';

// The manifest rules Heroku (and kensa, contract §8.2 check 16) applies to an add-on's config vars.

/** `URL` → `BIG_BACKUP_URL`; already-prefixed names pass through. Whether Heroku wants the bare suffix is open (§2), so both are accepted. */
export function canonicalConfigName(name: string, prefix: string): string {
  return name.startsWith(`${prefix}_`) ? name : `${prefix}_${name}`;
}

/** Problems with one var: undeclared, not a string, or a `*_URL` that is not an absolute URL. */
export function configVarProblems(name: string, value: unknown, manifest: ResolvedOptions['addon']): string[] {
  const problems: string[] = [];
  if (!manifest.configVars.includes(name)) {
    problems.push(`${name} is not declared in the manifest's config_vars (${manifest.configVars.join(', ')})`);
  }
  if (typeof value !== 'string') problems.push(`${name} must be a string, got ${JSON.stringify(value)}`);
  else if (name.endsWith('_URL') && !isAbsoluteUrl(value))
    problems.push(`${name} must be a URL with scheme and host, got ${JSON.stringify(value)}`);
  return problems;
}

/** Problems with the `config` object of a provision or plan-change answer (absent is fine). */
export function returnedConfigProblems(config: unknown, manifest: ResolvedOptions['addon']): string[] {
  if (config === undefined) return [];
  if (config === null || typeof config !== 'object' || Array.isArray(config))
    return ['config must be an object of name → string'];
  return Object.entries(config).flatMap(([name, value]) => configVarProblems(name, value, manifest));
}

function isAbsoluteUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol.length > 1 && url.host.length > 0;
  } catch {
    return false;
  }
}
