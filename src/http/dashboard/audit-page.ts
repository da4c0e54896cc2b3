import { Router } from 'express';
import type { AppDeps } from '../deps.ts';
import { requireSession } from '../middleware/require-session.ts';
import { listAudit } from '../../audit/audit.repo.ts';

/** Most recent audit events shown. */
const AUDIT_SHOWN = 500;

/** What happened to this add-on and who did it: sign-ins, captures, cancels, settings, links. */
export function auditPage(deps: AppDeps): Router {
  const router = Router();
  router.get('/audit', requireSession, async (req, res) => {
    const { resource, user } = req.viewer;
    res.render('audit', {
      title: `Audit log · ${resource.appName ?? resource.name} · big-backup`,
      resource,
      user,
      events: await listAudit(deps.pool, resource.id, AUDIT_SHOWN),
    });
  });
  return router;
}
