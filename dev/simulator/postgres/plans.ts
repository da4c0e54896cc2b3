// Heroku Postgres as the Platform API shows it: service and plan names, and which plans can be forked.

/** The add-on service name of Heroku Postgres. */
export const POSTGRES_SERVICE = 'heroku-postgresql';
/** Config var prefix the attachment name replaces: `HEROKU_POSTGRESQL_URL` → `DATABASE_URL` under `DATABASE`. */
export const POSTGRES_PREFIX = 'HEROKU_POSTGRESQL';
/** The add-on's one config var under its canonical name. */
export const POSTGRES_URL_VAR = `${POSTGRES_PREFIX}_URL`;
/** Plan `heroku-postgresql` alone means this one, as on Heroku. */
const DEFAULT_PLAN = 'essential-0';

/**
 * `heroku-postgresql:standard-0` → `standard-0`; a bare `heroku-postgresql` → the default plan.
 * Null when the name is of another service or malformed.
 */
export function postgresPlanSlug(planName: string): string | null {
  const [service, slug, ...rest] = planName.split(':');
  if (service !== POSTGRES_SERVICE || rest.length > 0) return null;
  if (slug === undefined) return DEFAULT_PLAN;
  return /^[a-z0-9]+(-[a-z0-9]+)*$/.test(slug) ? slug : null;
}

/** Essential-tier plans (and the legacy hobby/mini/basic ones) cannot be forked (contract §5.1). */
export function isForkablePlan(slug: string): boolean {
  return !/^(essential-|hobby-)/.test(slug) && !['mini', 'basic', 'dev'].includes(slug);
}

const COLORS = [
  'AMBER',
  'BLACK',
  'BLUE',
  'BRONZE',
  'COBALT',
  'CRIMSON',
  'GOLD',
  'GRAY',
  'GREEN',
  'IVORY',
  'JADE',
  'MAROON',
  'NAVY',
  'OLIVE',
  'ONYX',
  'ORANGE',
  'PINK',
  'PURPLE',
  'RED',
  'SILVER',
  'TEAL',
  'WHITE',
  'YELLOW',
];

/** Heroku's default attachment name for a new database: `HEROKU_POSTGRESQL_<COLOR>`, one not taken on the app. */
export function colorAttachmentName(taken: ReadonlySet<string>): string {
  for (const color of COLORS) if (!taken.has(`${POSTGRES_PREFIX}_${color}`)) return `${POSTGRES_PREFIX}_${color}`;
  for (let n = 2; ; n++) if (!taken.has(`${POSTGRES_PREFIX}_${n}`)) return `${POSTGRES_PREFIX}_${n}`;
}

/** Attachment names become config var prefixes: a letter, then letters, digits and underscores; upper-cased. */
export function normaliseAttachmentName(name: string): string | null {
  return /^[A-Za-z][A-Za-z0-9_]*$/.test(name) ? name.toUpperCase() : null;
}
