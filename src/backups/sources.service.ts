import pg from 'pg';
import { z } from 'zod';
import type { SecretBox } from '../crypto/secret-box.ts';
import { parseOr422 } from '../validate.ts';
import { unprocessable } from '../errors.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { findSourceSetting, setDirectSource } from './sources.repo.ts';

export interface SourcesDeps {
  pool: pg.Pool;
  secrets: SecretBox;
}

const sourceInput = z
  .object({
    url: z
      .string({ error: 'url: give the database URL, postgres://user:password@host:port/database' })
      .trim()
      .regex(/^postgres(ql)?:\/\/[^\s]+$/, { error: 'url must be a postgres:// or postgresql:// URL' })
      .max(2048),
  })
  .strict();

/** What the dashboard and the API show of the source: never the URL or its password. */
export async function describeSource(deps: Pick<SourcesDeps, 'pool'>, resourceId: string) {
  const setting = await findSourceSetting(deps.pool, resourceId);
  if (!setting) return null;
  return setting.kind === 'heroku'
    ? {
        kind: 'heroku' as const,
        description: setting.description,
        app: setting.appName,
        attachment: setting.attachmentName,
      }
    : { kind: 'direct' as const, description: setting.description };
}

/**
 * Sets a database URL given directly as the resource's source, after proving it works: a connection
 * is opened and `select version()` answered within 10 seconds, or the request is refused with 422 and
 * a reason that never repeats the URL. Stored sealed; audited without the URL.
 */
export async function setSourceUrl(
  deps: SourcesDeps,
  resourceId: string,
  input: unknown,
  actor: { label: string; ip?: string | null },
) {
  const { url } = parseOr422(sourceInput, input ?? {});
  const version = await checkConnection(url);
  const { description } = await setDirectSource(deps.pool, deps.secrets, resourceId, url, actor.label);
  await recordAudit(deps.pool, {
    resourceId,
    actor: actor.label,
    action: 'source.set',
    detail: { kind: 'direct', description, version },
    ip: actor.ip ?? null,
  });
  return { kind: 'direct' as const, description, serverVersion: version };
}

async function checkConnection(url: string): Promise<string> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    query_timeout: 10_000,
    application_name: 'big-backup check',
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const result = await client.query<{ version: string }>('show server_version');
    return result.rows[0]!.version;
  } catch (error) {
    const message = (error as Error).message.replace(/postgres(ql)?:\/\/\S+/g, '[database URL]');
    throw unprocessable(`big-backup could not connect to that database: ${message}`, 'source_unreachable', ['url']);
  } finally {
    await client.end().catch(() => {});
  }
}
