import type pg from 'pg';
import { withConnectApi, type ConnectDeps } from '../heroku/connect-authorization.ts';
import { PlatformApiError } from '../heroku/platform-api.ts';
import { clearForkIntent, markForkDestroyed, recordForkState, type ForkIntent } from './forks.repo.ts';

/**
 * Destroys one fork with the connected account's token and records it on the backup. Idempotent: a
 * fork Heroku no longer knows (404) counts as destroyed. Throws when it could not be destroyed (the
 * job retries, and the fork janitor keeps trying), after noting that on the backup.
 */
export async function destroyForkNow(
  deps: { pool: pg.Pool; connect?: ConnectDeps },
  fork: { resourceId: string; addonId: string; appName: string },
): Promise<'destroyed' | 'already-gone'> {
  if (!deps.connect) throw new Error('cannot destroy the fork: connecting a Heroku account is not configured');
  let outcome: 'destroyed' | 'already-gone';
  try {
    await recordForkState(deps.pool, fork.addonId, 'destroying');
    outcome = await withConnectApi(deps.connect, fork.resourceId, async (api) => {
      try {
        await api.deleteAddon(fork.appName, fork.addonId);
        return 'destroyed' as const;
      } catch (error) {
        if (error instanceof PlatformApiError && error.statusCode === 404) return 'already-gone' as const;
        throw error;
      }
    });
  } catch (error) {
    await recordForkState(deps.pool, fork.addonId, 'destroy_failed').catch(() => {});
    throw new Error(`could not destroy the fork ${fork.addonId} on ${fork.appName}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  await markForkDestroyed(deps.pool, fork.addonId);
  return outcome;
}

/**
 * Settles a fork an attempt asked for but never recorded: looks on the app for its attachment name
 * (made since the intent; names are unique per app, and carry the resource), destroys that add-on if
 * it is there, then clears the intent. Throws when Heroku could not be asked (kept for a later try).
 */
export async function destroyUnrecordedFork(
  deps: { pool: pg.Pool; connect?: ConnectDeps },
  intent: ForkIntent,
): Promise<'destroyed' | 'none'> {
  if (!deps.connect) throw new Error('cannot look for the fork: connecting a Heroku account is not configured');
  const outcome = await withConnectApi(deps.connect, intent.resourceId, async (api) => {
    let attachments;
    try {
      attachments = await api.attachments(intent.appName);
    } catch (error) {
      if (error instanceof PlatformApiError && error.statusCode === 404) return 'none' as const; // the app itself is gone
      throw error;
    }
    const attachment = attachments.find((a) => a.name === intent.attachmentName);
    if (!attachment || (attachment.created_at && Date.parse(attachment.created_at) < intent.at.getTime() - 60_000))
      return 'none' as const;
    try {
      await api.deleteAddon(intent.appName, attachment.addon.id);
    } catch (error) {
      if (!(error instanceof PlatformApiError && error.statusCode === 404)) throw error;
    }
    return 'destroyed' as const;
  });
  await clearForkIntent(deps.pool, intent.backupId, intent.attachmentName);
  return outcome;
}
