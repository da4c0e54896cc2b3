import { Router } from 'express';
import type { AppDeps } from '../deps.ts';
import { requireSession } from '../middleware/require-session.ts';
import { sameOrigin } from '../middleware/same-origin.ts';
import { AppError, forbidden, notFound } from '../../errors.ts';
import { checkResource } from '../../preflight/preflight.service.ts';
import { findBackupReport, findLatestReport } from '../../preflight/preflight.repo.ts';
import { bySeverity, countsLine, worstSeverity, type PreflightReport } from '../../preflight/finding.ts';
import { webPreflightDeps } from '../preflight-deps.ts';

/** What the dashboard's one-line summary shows of the newest report. */
export function preflightSummary(report: PreflightReport | undefined) {
  if (!report) return undefined;
  return { checkedAt: report.checkedAt, worst: worstSeverity(report.findings), line: countsLine(report.findings) };
}

const TRIGGERS: Record<PreflightReport['trigger'], string> = {
  source_set: 'when the database was set',
  connected: 'when Heroku was connected',
  backup: 'before a backup, on the database it dumped',
  on_demand: 'on request',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The report taken inside one backup of this resource, if any (an id of another resource's backup finds none). */
async function backupReport(deps: AppDeps, resourceId: string, backupId: unknown) {
  if (typeof backupId !== 'string' || !UUID.test(backupId)) return undefined;
  const report = await findBackupReport(deps.pool, backupId);
  return report?.resourceId === resourceId ? report : undefined;
}

/**
 * The pre-flight risk report page (the newest report, or with `?backup=<id>` the one taken inside that
 * backup), its "Check now" button, and one-line summaries: on the dashboard of the newest report, on a
 * backup's page of its own (set as `res.locals.preflight` / `res.locals.backupPreflight` for those
 * GETs, which the backup pages then render).
 */
export function preflightPage(deps: AppDeps): Router {
  const router = Router();
  const guard = sameOrigin(deps.config.PUBLIC_URL);
  const preflight = webPreflightDeps(deps);

  router.get('/dashboard', requireSession, async (req, res, next) => {
    res.locals.preflight = preflightSummary(await findLatestReport(deps.pool, req.viewer.resource.id));
    next();
  });

  router.get('/backups/:id', requireSession, async (req, res, next) => {
    const report = await backupReport(deps, req.viewer.resource.id, req.params.id);
    res.locals.backupPreflight = preflightSummary(report);
    next();
  });

  async function render(req: import('express').Request, res: import('express').Response, error?: string) {
    const { resource, user } = req.viewer;
    const forBackup = req.method === 'GET' && req.query.backup !== undefined;
    const report = forBackup
      ? await backupReport(deps, resource.id, req.query.backup)
      : await findLatestReport(deps.pool, resource.id);
    if (forBackup && !report) throw notFound('pre-flight report of that backup');
    res.render('preflight', {
      title: `Pre-flight report · ${resource.appName ?? resource.name} · big-backup`,
      resource,
      user,
      report,
      findings: report ? bySeverity(report.findings) : [],
      summary: preflightSummary(report),
      triggered: report ? TRIGGERS[report.trigger] : undefined,
      isAdmin: user.role === 'admin',
      error,
    });
  }

  router.get('/preflight', requireSession, async (req, res) => {
    await render(req, res);
  });

  router.post('/preflight', requireSession, guard, async (req, res) => {
    if (req.viewer.user.role !== 'admin') throw forbidden('Only an admin of this add-on can run the check.');
    try {
      await checkResource(preflight, req.viewer.resource.id, 'on_demand');
    } catch (error) {
      // No source yet: said on the page, where the way to set one is.
      if (!(error instanceof AppError) || error.status !== 409) throw error;
      res.status(409);
      return render(req, res, error.message);
    }
    res.redirect(303, '/preflight');
  });
  return router;
}
