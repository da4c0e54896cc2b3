import type pg from 'pg';
import type { SecretBox } from '../crypto/secret-box.ts';
import { herokuSource, type BackupSource } from '../engine/index.ts';
import { withConnectApi, type ConnectDeps } from '../heroku/connect-authorization.ts';
import { findSourceSetting, isSourceDeclaredStatic, openDirectSource } from '../backups/sources.repo.ts';
import { findLiveFork } from './forks.repo.ts';
import { sourceFailed } from './errors.ts';
import { toSourceFailure } from './fork-lifecycle.ts';

/**
 * The database a piece of a sharded backup dumps: the fork its attempt made and handed over (read
 * afresh from the scratch app's config vars, since credentials rotate; never a new fork), or the
 * direct source an admin declared static. Fails, not retryably, when that source is gone or changed:
 * pieces of one backup must all come from the same static copy.
 */
export async function reopenStaticSource(
  deps: { pool: pg.Pool; secrets: SecretBox; connect?: ConnectDeps },
  backup: { id: string; resourceId: string; sourceMode: string | null; sourceDescription: string | null },
): Promise<BackupSource> {
  if (backup.sourceMode === 'fork') {
    const fork = await findLiveFork(deps.pool, backup.id);
    if (!fork) throw sourceFailed('fork_lost', 'the fork this backup dumps is no longer recorded as standing', false);
    if (!deps.connect)
      throw sourceFailed('not_configured', 'Connecting a Heroku account is not configured on this server', false);
    try {
      return await withConnectApi(deps.connect, backup.resourceId, async (api) => {
        const attachment = (await api.attachments(fork.appName)).find((a) => a.addon.id === fork.addonId);
        if (!attachment)
          throw sourceFailed('fork_lost', `the fork ${fork.addonName ?? fork.addonId} is no longer attached`, false);
        const url = (await api.configVars(fork.appName))[`${attachment.name}_URL`];
        if (!url)
          throw sourceFailed('fork_lost', `the app ${fork.appName} has no ${attachment.name}_URL config var`, false);
        return herokuSource(url);
      });
    } catch (error) {
      throw toSourceFailure(error);
    }
  }
  if (backup.sourceMode === 'direct') {
    const setting = await findSourceSetting(deps.pool, backup.resourceId);
    if (
      setting?.kind !== 'direct' ||
      setting.description !== backup.sourceDescription ||
      !(await isSourceDeclaredStatic(deps.pool, backup.resourceId))
    ) {
      throw sourceFailed(
        'source_changed',
        'the source was changed in the settings while the backup was dumped in pieces',
        false,
      );
    }
    return openDirectSource(deps.secrets, backup.resourceId, setting);
  }
  throw sourceFailed('source_changed', `a ${backup.sourceMode ?? 'unknown'} source cannot be dumped in pieces`, false);
}
