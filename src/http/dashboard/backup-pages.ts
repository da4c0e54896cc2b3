import { Router, type Request } from 'express';
import type { AppDeps } from '../deps.ts';
import { requireSession } from '../middleware/require-session.ts';
import { sameOrigin } from '../middleware/same-origin.ts';
import { AppError } from '../../errors.ts';
import {
  cancelBackup,
  captureNow,
  getBackupDetail,
  backupGaveUp,
  listBackups,
  ALREADY_RUNNING,
} from '../../backups/backups.service.ts';
import { describeSource } from '../../backups/sources.service.ts';
import { findConnection } from '../../heroku/connect-connections.repo.ts';
import { findAuthorization } from '../../heroku/authorizations.repo.ts';
import { findPlan } from '../../resources/plans.ts';
import { forkTimings } from '../../backups/backup.ts';
import { actorOf } from '../api/actor.ts';
import { formBody } from '../form-body.ts';
import { throughputChart } from './throughput-chart.ts';
import { shardedProgress } from '../../backups/sharded-progress.ts';
import { backupFreshness } from '../../backups/freshness.ts';
import { createDownloadLink, listLinks, mayRevoke, revokeLink } from '../../links/links.service.ts';
import { lastRecheck, requestRecheck } from '../../backups/recheck-request.service.ts';
import { describeDrills, drillOf, drillsOf } from '../../backups/drills.service.ts';

/** Most table-of-contents entries one page shows; a search narrows them. */
const CONTENTS_SHOWN = 500;

/** The backups list (the dashboard), one backup's page, capture now and cancel. */
export function backupPages(deps: AppDeps): Router {
  const router = Router();
  const guard = sameOrigin(deps.config.PUBLIC_URL);

  async function renderList(req: Request, res: import('express').Response, error?: string) {
    const { resource, user } = req.viewer;
    const [page, authorization, connection, source, freshness] = await Promise.all([
      listBackups(deps, resource.id, req.query),
      findAuthorization(deps.pool, resource.id),
      findConnection(deps.pool, resource.id),
      describeSource(deps, resource.id),
      backupFreshness(deps.pool, resource.id),
    ]);
    res.render('dashboard', {
      title: `${resource.appName ?? resource.name} · big-backup`,
      resource,
      user,
      plan: findPlan(resource.plan)!,
      authorizationStatus: authorization?.status ?? 'pending',
      connection,
      source,
      forkTimings,
      ...page,
      error,
      freshness,
      running: page.busy,
      drills: await drillsOf(
        deps.pool,
        page.backups.map((b) => b.id),
      ),
    });
  }

  router.get('/dashboard', requireSession, async (req, res) => {
    await renderList(req, res);
  });

  router.post('/backups', requireSession, guard, async (req, res) => {
    try {
      const actor = actorOf(req);
      const backup = await captureNow(
        deps,
        actor.resourceId,
        { format: formBody(req).format || undefined },
        actor.label,
        actor.ip,
      );
      res.redirect(303, `/backups/${backup.id}`);
    } catch (error) {
      // A refusal the customer can act on (one already running, a bad format) is shown on the list.
      if (!(error instanceof AppError) || (error.code !== ALREADY_RUNNING && error.status !== 422)) throw error;
      res.status(error.status);
      await renderList(req, res, error.message);
    }
  });

  async function renderBackup(
    req: Request,
    res: import('express').Response,
    extra: { link?: { url: string; expiresAt: Date; filename: string } } = {},
  ) {
    const { resource, user } = req.viewer;
    const viewer = actorOf(req);
    const detail = await getBackupDetail(deps, resource.id, req.params.id as string);
    const gaveUp = await backupGaveUp(deps, detail.backup);
    const q = typeof req.query.q === 'string' ? req.query.q.trim().slice(0, 200) : '';
    const entries = detail.contents?.entries ?? [];
    const needle = q.toLowerCase();
    const matching = q
      ? entries.filter((e) => `${e.schema ?? ''}.${e.name} ${e.type}`.toLowerCase().includes(needle))
      : entries;
    res.render('backup', {
      title: `${detail.backup.name} · ${resource.appName ?? resource.name} · big-backup`,
      resource,
      user,
      ...detail,
      q,
      shown: matching.slice(0, CONTENTS_SHOWN),
      matchingCount: matching.length,
      // Every table, and those whose rows the archive holds (the Verified line's count): a partitioned
      // parent, say, is a table without rows of its own.
      tables: entries.filter((e) => e.type === 'TABLE').length,
      tablesWithRows: entries.filter((e) => e.type === 'TABLE' && e.hasData).length,
      schemas: new Set(entries.map((e) => e.schema).filter(Boolean)).size,
      chart: throughputChart(detail.backup.progress.samples ?? []),
      forkTimings,
      lastLogId: detail.logs.at(-1)?.id ?? 0,
      links: (await listLinks(deps.pool, resource.id, detail.backup.id)).map((l) => ({
        ...l,
        revocable: mayRevoke(l, viewer),
      })),
      link: extra.link,
      gaveUp,
      now: new Date(),
      recheck: await lastRecheck(deps.pool, detail.backup.id),
      recheckNotice: req.query.notice === 'recheck',
      drill: await drillOf(deps.pool, detail.backup.id),
      drillOffer: await describeDrills(deps.pool, resource.id),
      sharded: await shardedProgress(deps.pool, detail.backup),
    });
  }

  router.get('/backups/:id', requireSession, async (req, res) => {
    await renderBackup(req, res);
  });

  // "Download": a link for the signed-in user, shown once on the page that made it.
  router.post('/backups/:id/links', requireSession, guard, async (req, res) => {
    const requested = formBody(req).expires_in_seconds;
    const seconds = typeof requested === 'string' && /^\d{1,7}$/.test(requested) ? Number(requested) : requested;
    const created = await createDownloadLink(
      { pool: deps.pool, publicUrl: deps.config.PUBLIC_URL },
      actorOf(req),
      req.params.id as string,
      seconds === undefined ? {} : { expires_in_seconds: seconds },
    );
    await renderBackup(req, res, { link: created });
  });

  router.post('/backups/:id/links/:linkId/revoke', requireSession, guard, async (req, res) => {
    await revokeLink(deps.pool, actorOf(req), req.params.linkId as string);
    res.redirect(303, `/backups/${req.params.id as string}#links`);
  });

  router.post('/backups/:id/cancel', requireSession, guard, async (req, res) => {
    const actor = actorOf(req);
    await cancelBackup(deps, actor.resourceId, req.params.id as string, actor.label, actor.ip);
    res.redirect(303, `/backups/${req.params.id as string}`);
  });

  // Issue 15: "Re-check now" reads the stored archive again and compares its SHA-256.
  router.post('/backups/:id/recheck', requireSession, guard, async (req, res) => {
    const actor = actorOf(req);
    await requestRecheck(deps, actor.resourceId, req.params.id as string, actor.label, actor.ip);
    res.redirect(303, `/backups/${req.params.id as string}?notice=recheck#recheck`);
  });

  return router;
}
