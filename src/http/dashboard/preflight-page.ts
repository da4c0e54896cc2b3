import { Router } from 'express';
import type { AppDeps } from '../deps.ts';
import { requireSession } from '../middleware/require-session.ts';
import { sameOrigin } from '../middleware/same-origin.ts';
import { AppError, forbidden } from '../../errors.ts';
import { checkResource } from '../../preflight/preflight.service.ts';
import { findLatestReport } from '../../preflight/preflight.repo.ts';
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

/**
 * The pre-flight risk report page, its "Check now" button, and the report's one-line summary on the
 * dashboard (set as `res.locals.preflight` for GET /dashboard, which the backups list then renders).
 */
export function preflightPage(deps: AppDeps): Router {
  const router = Router();
  const guard = sameOrigin(deps.config.PUBLIC_URL);
  const preflight = webPreflightDeps(deps);

  router.get('/dashboard', requireSession, async (req, res, next) => {
    res.locals.preflight = preflightSummary(await findLatestReport(deps.pool, req.viewer.resource.id));
    next();
  });

  async function render(req: import('express').Request, res: import('express').Response, error?: string) {
    const { resource, user } = req.viewer;
    const report = await findLatestReport(deps.pool, resource.id);
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
