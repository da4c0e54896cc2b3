import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { z } from 'zod';
import type { Config } from '../config.ts';
import {
  connectProblem,
  connectSource,
  guardConnection,
  parseDatabaseUrl,
  type ConnectionParams,
} from '../engine/index.ts';
import { isBackupFailure } from '../shared/backup-failure.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { parseOr422 } from '../validate.ts';
import { unprocessable } from '../errors.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { findSourceSetting, isSourceDeclaredStatic, setDirectSource, setSourceStatic } from './sources.repo.ts';
import { sendJob } from '../queue/send.ts';

export interface SourcesDeps {
  pool: pg.Pool;
  boss: PgBoss;
  secrets: SecretBox;
  config: Pick<Config, 'ALLOW_PRIVATE_DATABASE_HOSTS'>;
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
    : {
        kind: 'direct' as const,
        description: setting.description,
        static: await isSourceDeclaredStatic(deps.pool, resourceId),
      };
}

const staticInput = z
  .object({
    static: z.boolean({ error: 'static: true to declare the source static, false to take it back' }),
    confirm: z.string().trim().max(2048).optional(),
  })
  .strict();

/**
 * Declares the direct source static (or takes that back): its backups are then captured in pieces, as a
 * fork's are, which is only right when nothing writes to it while a backup runs (an unfollowed follower,
 * a restore target). Declaring asks for confirmation: `confirm` must repeat the source's description.
 * Changing the source takes the declaration back.
 */
export async function declareSourceStatic(
  deps: Pick<SourcesDeps, 'pool'>,
  resourceId: string,
  input: unknown,
  actor: { label: string; ip?: string | null },
) {
  const { static: declared, confirm } = parseOr422(staticInput, input ?? {});
  const setting = await findSourceSetting(deps.pool, resourceId);
  if (setting?.kind !== 'direct')
    throw unprocessable(
      'only a database URL given directly can be declared static; a Heroku database is forked',
      'not_direct',
      ['static'],
    );
  if (declared && confirm !== setting.description)
    throw unprocessable(
      `to confirm that nothing writes to ${setting.description} while a backup runs, repeat its description in confirm`,
      'confirmation_needed',
      ['confirm'],
    );
  await setSourceStatic(deps.pool, resourceId, declared, actor.label);
  await recordAudit(deps.pool, {
    resourceId,
    actor: actor.label,
    action: declared ? 'source.declared_static' : 'source.static_withdrawn',
    detail: { description: setting.description },
    ip: actor.ip ?? null,
  });
  return describeSource(deps, resourceId);
}

/**
 * Sets a database URL given directly as the resource's source, after proving it works: the URL is
 * parsed as strictly as for pg_dump, its host checked against the host policy, and a connection to the
 * checked address must answer within 10 seconds; otherwise 422 with a reason that never repeats the
 * URL, an address or the driver's text. Stored sealed; audited without the URL; a pre-flight report
 * of it is queued.
 */
export async function setSourceUrl(
  deps: SourcesDeps,
  resourceId: string,
  input: unknown,
  actor: { label: string; ip?: string | null },
) {
  const { url } = parseOr422(sourceInput, input ?? {});
  const version = await checkConnection(url, deps.config.ALLOW_PRIVATE_DATABASE_HOSTS);
  const { description } = await setDirectSource(deps.pool, deps.secrets, resourceId, url, actor.label);
  await recordAudit(deps.pool, {
    resourceId,
    actor: actor.label,
    action: 'source.set',
    detail: { kind: 'direct', description, version },
    ip: actor.ip ?? null,
  });
  // The pre-flight risk report of the new source, computed by a worker.
  await sendJob(deps.boss, 'preflight', { resourceId, trigger: 'source_set' });
  return { kind: 'direct' as const, description, serverVersion: version };
}

/** The server's version, reached exactly as a backup will reach it; every refusal is a 422. */
async function checkConnection(url: string, allowPrivate: boolean): Promise<string> {
  let connection: ConnectionParams;
  try {
    connection = await guardConnection(parseDatabaseUrl(url), { allowPrivate });
  } catch (error) {
    throw refusal(error);
  }
  let client: pg.Client;
  try {
    client = await connectSource(connection, {
      timeoutMs: 10_000,
      queryTimeoutMs: 10_000,
      applicationName: 'big-backup check',
    });
  } catch (error) {
    throw refusal(error);
  }
  try {
    const result = await client.query<{ version: string }>('show server_version');
    return result.rows[0]!.version;
  } catch (error) {
    throw refusal(error);
  } finally {
    await client.end().catch(() => {});
  }
}

function refusal(error: unknown): Error {
  if (isBackupFailure(error, 'invalid_source', 'source_not_allowed'))
    return unprocessable(error.message, error.kind, ['url']);
  return unprocessable(
    `big-backup could not connect to that database: ${connectProblem(error)}`,
    'source_unreachable',
    ['url'],
  );
}
