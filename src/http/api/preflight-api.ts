import { Router } from 'express';
import type { AppDeps } from '../deps.ts';
import { requireAdmin } from '../middleware/api-auth.ts';
import { checkResource } from '../../preflight/preflight.service.ts';
import { findLatestReport } from '../../preflight/preflight.repo.ts';
import { bySeverity, type PreflightReport } from '../../preflight/finding.ts';
import { webPreflightDeps } from '../preflight-deps.ts';

/** A report as the API shows it: most severe findings first. */
export function preflightJson(report: PreflightReport | undefined) {
  if (!report) return { checkedAt: null, trigger: null, backupId: null, findings: [] };
  return {
    checkedAt: report.checkedAt.toISOString(),
    trigger: report.trigger,
    backupId: report.backupId,
    findings: bySeverity(report.findings).map(({ code, severity, title, advice }) => ({
      code,
      severity,
      title,
      advice,
    })),
  };
}

/**
 * `/api/v1/preflight`: the newest pre-flight risk report (anyone), and a check now (admins; it connects
 * to the database, so it answers when the report is stored, within the catalog queries' time limits).
 */
export function preflightApi(deps: AppDeps): Router {
  const router = Router();
  const preflight = webPreflightDeps(deps);
  router.get('/preflight', async (req, res) => {
    res.json(preflightJson(await findLatestReport(deps.pool, req.viewer.resource.id)));
  });
  router.post('/preflight', requireAdmin, async (req, res) => {
    res.status(201).json(preflightJson(await checkResource(preflight, req.viewer.resource.id, 'on_demand')));
  });
  return router;
}
