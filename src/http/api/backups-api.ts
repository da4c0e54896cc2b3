import { Router } from 'express';
import type { AppDeps } from '../deps.ts';
import { cancelBackup, captureNow, getBackupDetail, listBackups } from '../../backups/backups.service.ts';
import { actorOf } from './actor.ts';
import { backupJson } from './backup-json.ts';
import { captureJson } from './capture-json.ts';
import { shardedProgress } from '../../backups/sharded-progress.ts';
import { backupFreshness } from '../../backups/freshness.ts';
import { requestRecheck } from '../../backups/recheck-request.service.ts';
import { drillJson, drillOf } from '../../backups/drills.service.ts';

/** `/api/v1/backups`: list, capture now, one backup (with its log and contents), cancel. Members and admins alike. */
export function backupsApi(deps: AppDeps): Router {
  const router = Router();
  router.get('/backups', async (req, res) => {
    const [page, freshness] = await Promise.all([
      listBackups(deps, req.viewer.resource.id, req.query),
      backupFreshness(deps.pool, req.viewer.resource.id),
    ]);
    res.json({
      backups: page.backups.map(backupJson),
      page: page.page,
      pages: page.pages,
      total: page.total,
      freshness: {
        stale: freshness.stale,
        newest_verified_at: freshness.newestVerifiedAt?.toISOString() ?? null,
        warning: freshness.warning,
      },
    });
  });
  router.post('/backups', async (req, res) => {
    const actor = actorOf(req);
    const backup = await captureNow(deps, actor.resourceId, req.body, actor.label, actor.ip);
    res.status(201).location(`/api/v1/backups/${backup.id}`).json(backupJson(backup));
  });
  router.get('/backups/:id', async (req, res) => {
    const after = Number(req.query.logs_after ?? 0);
    const detail = await getBackupDetail(deps, req.viewer.resource.id, req.params.id, {
      logsAfter: Number.isSafeInteger(after) && after > 0 ? after : 0,
    });
    res.json({
      ...backupJson(detail.backup),
      ...captureJson(detail.backup, await shardedProgress(deps.pool, detail.backup)),
      throughput: detail.backup.progress.samples ?? [],
      events: detail.events.map((e) => ({
        attempt: e.attempt,
        state: e.state,
        detail: e.detail,
        at: e.at.toISOString(),
      })),
      logs: detail.logs.map((l) => ({ id: l.id, attempt: l.attempt, at: l.at.toISOString(), message: l.message })),
      logs_more: detail.logsMore,
      drill: drillJson(await drillOf(deps.pool, detail.backup.id)),
      ...(req.query.contents === '1' ? { contents: detail.contents } : {}),
    });
  });
  router.post('/backups/:id/cancel', async (req, res) => {
    const actor = actorOf(req);
    res.status(202).json(backupJson(await cancelBackup(deps, actor.resourceId, req.params.id, actor.label, actor.ip)));
  });
  // Issue 15: re-read the stored archive now and compare its SHA-256; the result lands on the backup.
  router.post('/backups/:id/recheck', async (req, res) => {
    const actor = actorOf(req);
    const { backup, queued } = await requestRecheck(deps, actor.resourceId, req.params.id, actor.label, actor.ip);
    res.status(202).json({ ...backupJson(backup), recheck: { queued } });
  });
  return router;
}
