import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { Backup } from '../backups/backup.ts';
import { findSourceSetting, openDirectSource, type SourceSetting } from '../backups/sources.repo.ts';
import { findResource } from '../resources/resources.repo.ts';
import {
  connectSource,
  guardConnection,
  herokuSource,
  parseDatabaseUrl,
  describeConnection,
  requireTls,
  type BackupSource,
  type HostPolicy,
} from '../engine/index.ts';
import { redact } from '../shared/redact.ts';
import { findConnection, type ConnectionRow } from '../heroku/connect-connections.repo.ts';
import { ConnectionUnavailableError, withConnectApi, type ConnectDeps } from '../heroku/connect-authorization.ts';
import { RateLimitedError, type ConnectApi, type UserAddon } from '../heroku/connect-api.ts';
import { PlatformApiError } from '../heroku/platform-api.ts';
import { sendJob } from '../queue/send.ts';
import { sourceFailed } from './errors.ts';
import { isBackupFailure } from '../shared/backup-failure.ts';
import {
  findForkIntent,
  findLiveFork,
  recordForkIntent,
  recordForkReady,
  recordForkRequested,
  recordSourceMode,
  type ForkIntent,
  type SourceMode,
} from './forks.repo.ts';
import { destroyForkNow, destroyUnrecordedFork } from './fork-teardown.ts';

/** How long a fork may take to be ready, and how often to look (backing off to a minute). */
export interface ForkSettings {
  readyTimeoutMs: number;
  pollIntervalMs: number;
}

/** How long an attempt waits for the add-on's app to be learned before it gives up (and is retried). */
const APP_UNKNOWN_WAIT_MS = 60_000;
const APP_UNKNOWN_POLL_MS = 500;

export const DEFAULT_FORK_SETTINGS: ForkSettings = { readyTimeoutMs: 12 * 3600_000, pollIntervalMs: 5000 };
const MAX_POLL_INTERVAL_MS = 60_000;

/** What opening a source needs. */
export interface SourceSessionDeps {
  pool: pg.Pool;
  boss: PgBoss;
  secrets: SecretBox;
  connect?: ConnectDeps;
  forks?: ForkSettings;
  /** Which hosts a source may point at; public ones only when absent. */
  hosts?: HostPolicy;
}

/** The database one attempt dumps, and how it got there. */
export interface OpenedSource {
  source: BackupSource;
  /** Names server and database, never a password. */
  description: string;
  mode: SourceMode;
}

/** One attempt's source: `open` resolves it (creating a fork when the source is on Heroku); `close` sends the fork's teardown. */
export interface SourceSession {
  open(): Promise<OpenedSource>;
  /** Safe on every exit path and more than once; never throws. */
  close(): Promise<void>;
  /**
   * Hands the opened fork over to a sharded capture (jobs/sharded/), whose pieces dump it after this
   * attempt's job has ended: `close` then leaves it standing, and the sharded backup's own end (done,
   * failed, canceled, past its deadline) destroys it, with the fork janitor as the safety net.
   */
  handOver(): void;
}

/** Heroku Postgres plans that cannot be forked (Essential tier, and the legacy hobby/mini/basic plans). */
export function isForkablePlan(planName: string): boolean {
  const plan = planName.replace(/^heroku-postgresql:/, '');
  return !/^(essential|mini|basic|hobby)/.test(plan);
}

/**
 * `BIGBACKUP_FORK_3F2A1B9C_B001`: the resource's first 8 hex digits, then the backup (a later attempt
 * appends its number); the config var on the scratch app is this plus `_URL`. Attachment names are
 * unique per app, and two add-ons may share a scratch app: without the resource part their b001
 * forks would collide, and Heroku's 422 would read as "this database cannot be forked".
 */
export function forkAttachmentName(backup: Pick<Backup, 'name' | 'attempt' | 'resourceId'>): string {
  const resource = backup.resourceId.replace(/-/g, '').slice(0, 8).toUpperCase();
  return `BIGBACKUP_FORK_${resource}_${backup.name.toUpperCase()}${backup.attempt > 1 ? `_${backup.attempt}` : ''}`;
}

/**
 * Opens the source of one backup attempt. A direct source is the sealed URL the customer gave. A Heroku
 * source reads `<ATTACHMENT>_URL` from the app's config vars with the connected account's token (every
 * run; credentials rotate), then, unless the database cannot be forked, creates a fork on the scratch
 * app, saves its id on the backup at once, waits for it to be provisioned and out of recovery, and
 * hands back the fork's URL. Whatever happens, `close` sends the fork this attempt created to the
 * separate, retried teardown job, or, when the create never answered with a fork, looks for one under
 * the attachment name it asked for and destroys it.
 */
export function openSourceSession(
  deps: SourceSessionDeps,
  run: { backup: Backup; token: string; signal: AbortSignal; log: (line: string) => void },
): SourceSession {
  const { backup, token, signal, log } = run;
  const settings = deps.forks ?? DEFAULT_FORK_SETTINGS;
  let created: { addonId: string; appName: string } | undefined;
  let intent: ForkIntent | undefined;
  let closed = false;
  let handedOver = false;

  const heroku = async <T>(fn: (api: ConnectApi) => Promise<T>): Promise<T> => {
    if (!deps.connect)
      throw sourceFailed('not_configured', 'Connecting a Heroku account is not configured on this server', false);
    try {
      return await withConnectApi(deps.connect, backup.resourceId, fn);
    } catch (error) {
      throw toSourceFailure(error);
    }
  };

  async function openHeroku(setting: {
    appName: string;
    attachmentName: string;
    description: string;
  }): Promise<OpenedSource> {
    const connection = await findConnection(deps.pool, backup.resourceId);
    if (!connection)
      throw sourceFailed(
        'not_connected',
        'no Heroku account is connected: an admin must connect Heroku in the dashboard settings',
        false,
      );
    if (connection.status !== 'connected')
      throw sourceFailed(
        'reconnect_needed',
        `reconnect needed: ${connection.lastError ?? 'the Heroku connection stopped working'}`,
        false,
      );
    const configVar = `${setting.attachmentName}_URL`;
    const vars = await heroku((api) => api.configVars(setting.appName));
    const url = vars[configVar];
    if (!url)
      throw sourceFailed(
        'source_missing',
        `the app ${setting.appName} has no ${configVar} config var; choose the database again in the settings`,
        false,
      );
    log(`resolved ${setting.description} from the app's config vars`);
    const attachment = (await heroku((api) => api.attachments(setting.appName))).find(
      (a) => a.name === setting.attachmentName,
    );
    const addon = attachment ? await heroku((api) => api.addon(attachment.addon.id)) : undefined;
    if (!addon)
      return fallback(
        connection,
        url,
        setting.description,
        `${configVar} is not a Heroku Postgres attachment, so it cannot be forked`,
      );
    if (!isForkablePlan(addon.plan.name)) {
      return fallback(
        connection,
        url,
        setting.description,
        `${addon.name} is on ${addon.plan.name}; Essential-tier databases cannot be forked`,
      );
    }
    if (!connection.scratchAppName)
      throw sourceFailed(
        'no_scratch_app',
        'no app is chosen to hold forks: pick or create one in the dashboard settings',
        false,
      );
    // The fork is made on the scratch app, so the source is named by its app and config var.
    return forkAndWait(
      connection,
      connection.scratchAppName,
      addon,
      `${setting.appName}::${configVar}`,
      url,
      setting.description,
    );
  }

  async function fallback(
    connection: ConnectionRow,
    url: string,
    described: string,
    why: string,
  ): Promise<OpenedSource> {
    if (!connection.allowDirectFallback) {
      throw sourceFailed(
        'not_forkable',
        `${why}; a direct dump of the production database is not allowed (an admin can allow it in the settings)`,
        false,
      );
    }
    log(`${why}: dumping the database directly, as an admin allowed (no fork; production carries the load)`);
    await recordSourceMode(deps.pool, backup.id, token, 'direct-fallback');
    return {
      source: herokuSource(url),
      description: `${describeConnection(parseDatabaseUrl(url))} (${described}, direct)`,
      mode: 'direct-fallback',
    };
  }

  async function forkAndWait(
    connection: ConnectionRow,
    scratchApp: string,
    source: UserAddon,
    forkFrom: string,
    sourceUrl: string,
    described: string,
  ): Promise<OpenedSource> {
    // A previous attempt of this backup that died may have left its fork on the row. Destroy it before
    // the row names a new one, so no fork is ever left without a record the janitor can find.
    const older = await findLiveFork(deps.pool, backup.id);
    if (older) {
      try {
        await destroyForkNow(deps, older);
        log(`the fork ${older.addonName ?? older.addonId} of an earlier attempt was destroyed`);
      } catch (error) {
        throw sourceFailed(
          'fork_cleanup',
          `the fork of an earlier attempt could not be destroyed yet: ${(error as Error).message}`,
          true,
          { cause: error },
        );
      }
    }
    // An earlier attempt may have died after asking for a fork and before recording it.
    const unrecorded = await findForkIntent(deps.pool, backup.id);
    if (unrecorded) {
      try {
        if ((await destroyUnrecordedFork(deps, unrecorded)) === 'destroyed')
          log(`an unrecorded fork of an earlier attempt (${unrecorded.attachmentName}) was destroyed`);
      } catch (error) {
        throw sourceFailed(
          'fork_cleanup',
          `the fork an earlier attempt asked for could not be checked yet: ${(error as Error).message}`,
          true,
          { cause: error },
        );
      }
    }
    const attachmentName = forkAttachmentName(backup);
    const plan = `heroku-postgresql:${connection.forkPlan}`;
    // Written before the request, so a fork made by a request whose reply was lost, or whose worker
    // then died, can still be found by its name: by `close`, the next attempt or the fork janitor.
    const intendedAt = new Date();
    if (!(await recordForkIntent(deps.pool, backup.id, token, { appName: scratchApp, attachmentName }))) {
      throw sourceFailed('superseded', 'a newer attempt took over this backup', false);
    }
    intent = {
      backupId: backup.id,
      resourceId: backup.resourceId,
      appName: scratchApp,
      attachmentName,
      at: intendedAt,
    };
    let fork: UserAddon;
    try {
      fork = await heroku((api) => api.createFork({ app: scratchApp, plan, source: forkFrom, attachmentName }));
    } catch (error) {
      // Heroku refuses to fork some databases (422); that is the same case as an Essential plan.
      if (isBackupFailure(error, 'heroku_refused'))
        return fallback(connection, sourceUrl, described, `Heroku refused to fork ${source.name}: ${error.message}`);
      throw error;
    }
    created = { addonId: fork.id, appName: scratchApp };
    const requestedAt = Date.now();
    if (
      !(await recordForkRequested(deps.pool, backup.id, token, {
        addonId: fork.id,
        addonName: fork.name,
        appName: scratchApp,
        plan: connection.forkPlan,
      }))
    ) {
      throw sourceFailed('superseded', 'a newer attempt took over this backup', false);
    }
    await recordSourceMode(deps.pool, backup.id, token, 'fork');
    log(`fork ${fork.name} (${plan}) of ${source.name} requested on the app ${scratchApp}; waiting for it to be ready`);
    const deadline = requestedAt + settings.readyTimeoutMs;
    let interval = settings.pollIntervalMs;
    // Why the fork is not ready yet, logged each time it changes and named if the wait times out: a
    // fork this worker can never reach (a private network, say) then says so instead of "not ready".
    let waitingFor: string | undefined;
    for (;;) {
      const forkUrl = await readyUrl(scratchApp, fork.id, attachmentName);
      let notReady = 'Heroku has not finished provisioning it';
      if (forkUrl !== undefined) {
        const connection = parseDatabaseUrl(forkUrl);
        const why = await whyNotReady(forkUrl, deps.hosts);
        if (why === null) {
          await recordForkReady(deps.pool, backup.id, fork.id);
          log(`fork ${fork.name} ready after ${Math.round((Date.now() - requestedAt) / 1000)} s`);
          return {
            source: herokuSource(forkUrl),
            description: `${describeConnection(connection)} (fork ${fork.name} of ${described})`,
            mode: 'fork',
          };
        }
        notReady = why;
      }
      if (notReady !== waitingFor) {
        waitingFor = notReady;
        log(`fork ${fork.name} not ready yet: ${notReady}`);
      }
      // The last look is at the deadline itself: the sleep before it is cut short rather than skipped.
      const left = deadline - Date.now();
      if (left <= 0) {
        throw sourceFailed(
          'fork_timeout',
          `the fork was not ready after ${formatDuration(Date.now() - requestedAt)} ` +
            `(limit ${formatDuration(settings.readyTimeoutMs)}; last seen: ${waitingFor})`,
          false,
        );
      }
      // A stopped attempt rejects with the reason it was stopped for (cancel, expiry, a newer attempt).
      await sleep(Math.min(interval, left), undefined, { signal }).catch(() => {
        throw signal.reason;
      });
      interval = Math.min(Math.round(interval * 1.5), MAX_POLL_INTERVAL_MS);
    }
  }

  /** The fork's URL once it is provisioned and its config var is set; undefined while it is not. */
  async function readyUrl(app: string, addonId: string, attachmentName: string): Promise<string | undefined> {
    let state: UserAddon;
    try {
      state = await heroku((api) => api.appAddon(app, addonId));
    } catch (error) {
      if (isBackupFailure(error, 'heroku_not_found'))
        throw sourceFailed('fork_lost', 'the fork was deprovisioned before it became ready', true);
      throw error;
    }
    if (state.state === 'deprovisioned')
      throw sourceFailed('fork_lost', 'the fork was deprovisioned before it became ready', true);
    if (state.state !== 'provisioned') return undefined;
    const vars = await heroku((api) => api.configVars(app));
    return vars[`${attachmentName}_URL`] ?? undefined;
  }

  /**
   * No source yet. If Heroku is connected but the add-on's app is not known (the grant exchange job that
   * learns it has not finished: a newcomer can connect and capture within seconds of provisioning), that
   * job sets the app's default attachment as the source as soon as it can: wait for it, for a while.
   */
  async function awaitDefaultSource(): Promise<SourceSetting> {
    const noSource = () =>
      sourceFailed(
        'no_source',
        'there is no database to back up yet: connect Heroku or give a database URL in the dashboard settings',
        false,
      );
    const resource = await findResource(deps.pool, backup.resourceId);
    if (resource?.appName || !(await findConnection(deps.pool, backup.resourceId))) throw noSource();
    log('waiting for Heroku to say which app this add-on is attached to');
    const deadline = Date.now() + APP_UNKNOWN_WAIT_MS;
    while (Date.now() < deadline) {
      await sleep(APP_UNKNOWN_POLL_MS, undefined, { signal }).catch(() => {
        throw signal.reason;
      });
      const setting = await findSourceSetting(deps.pool, backup.resourceId);
      if (setting) return setting;
    }
    // Retryable: the app is learned by a job that retries on its own; the next attempt finds the source.
    throw sourceFailed(
      'no_source',
      'Heroku has not yet said which app this add-on is attached to, so its database is not known; the backup will be retried',
      true,
    );
  }

  return {
    async open() {
      const setting = (await findSourceSetting(deps.pool, backup.resourceId)) ?? (await awaitDefaultSource());
      if (setting.kind === 'direct') {
        await recordSourceMode(deps.pool, backup.id, token, 'direct');
        return {
          source: openDirectSource(deps.secrets, backup.resourceId, setting),
          description: setting.description,
          mode: 'direct',
        };
      }
      return openHeroku(setting);
    },
    handOver() {
      handedOver = true;
    },
    async close() {
      if (closed || handedOver) return;
      closed = true;
      if (!created) {
        // Asked for a fork but never got one back (a lost reply, a refusal): settle the intent now.
        // Best effort: if Heroku cannot be asked, the next attempt or the fork janitor does it.
        if (intent) {
          const outcome = await destroyUnrecordedFork(deps, intent).catch(() => null);
          if (outcome === 'destroyed')
            log(`the request for a fork failed, but Heroku made the fork ${intent.attachmentName}; it was destroyed`);
        }
        return;
      }
      try {
        await sendTeardown(deps.boss, { resourceId: backup.resourceId, backupId: backup.id, ...created });
        log(`fork teardown requested`);
      } catch {
        // The fork janitor finds it: it is recorded on the backup.
      }
    },
  };
}

/** Sends the idempotent, retried teardown of one fork. */
export async function sendTeardown(
  boss: PgBoss,
  fork: { resourceId: string; backupId: string; addonId: string; appName: string },
): Promise<void> {
  await sendJob(boss, 'destroyFork', {
    resourceId: fork.resourceId,
    backupId: fork.backupId,
    addonId: fork.addonId,
    appName: fork.appName,
  });
}

/** Maps what the connected-account calls throw onto failures a backup can show and classify. */
export function toSourceFailure(error: unknown): unknown {
  if (isBackupFailure(error)) return error;
  if (error instanceof ConnectionUnavailableError)
    return sourceFailed('reconnect_needed', error.message, false, { cause: error });
  if (error instanceof RateLimitedError)
    return sourceFailed('heroku_rate_limited', error.message, true, { cause: error });
  if (error instanceof PlatformApiError) {
    if (error.statusCode === 404) return sourceFailed('heroku_not_found', error.message, false, { cause: error });
    if (error.statusCode === 422) return sourceFailed('heroku_refused', error.message, false, { cause: error });
    if (error.statusCode === 403)
      return sourceFailed(
        'heroku_forbidden',
        `${error.message} (does the connected account still have access to the app?)`,
        false,
        { cause: error },
      );
    return sourceFailed('heroku_api', error.message, error.statusCode >= 500, { cause: error });
  }
  return error;
}

/**
 * Null once the fork accepts connections and has left recovery (a fresh fork replays WAL first);
 * otherwise why not, with any password taken out. Reached as the dump will reach it: strictly parsed,
 * its host checked (a refused host fails the attempt at once) and over TLS.
 */
export async function whyNotReady(url: string, hosts: HostPolicy | undefined): Promise<string | null> {
  const parsed = requireTls(parseDatabaseUrl(url));
  let client: pg.Client;
  try {
    client = await connectSource(await guardConnection(parsed, hosts), {
      timeoutMs: 5000,
      applicationName: 'big-backup',
    });
  } catch (error) {
    if (isBackupFailure(error, 'source_not_allowed')) throw error;
    // Starting up, DNS not there yet, credentials not active yet: all mean "not ready" for now.
    return `connecting to it failed: ${redact((error as Error).message, [parsed.password.reveal()])}`;
  }
  try {
    const result = await client.query<{ recovering: boolean }>('select pg_is_in_recovery() as recovering');
    return result.rows[0]?.recovering === false ? null : "it is still replaying its source's history (in recovery)";
  } catch (error) {
    return `connecting to it failed: ${redact((error as Error).message, [parsed.password.reveal()])}`;
  } finally {
    await client.end().catch(() => {});
  }
}

function formatDuration(ms: number): string {
  const minutes = ms / 60_000;
  if (minutes >= 1) return `${Number.isInteger(minutes) ? minutes : minutes.toFixed(1)} minutes`;
  return `${Math.round(ms / 1000)} seconds`;
}
