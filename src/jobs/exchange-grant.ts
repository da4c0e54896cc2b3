import type { Payload } from '../queue/queues.ts';
import type { JobDeps } from './deps.ts';
import { exchangeProvisionGrant, withPartnerApi } from '../heroku/partner-authorization.ts';
import { findResource, updateResourceApp } from '../resources/resources.repo.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { adoptDefaultSource } from '../connect/connect.service.ts';
import { sendJob } from '../queue/send.ts';

/**
 * Exchanges the provision grant for partner tokens, then learns which app the add-on belongs to
 * (the provision request does not say). Each step is idempotent, so a retry after a crash between
 * them redoes only what is missing. Throws (so pg-boss retries) only when Heroku was unreachable.
 */
export async function exchangeGrant(deps: JobDeps, { resourceId }: Payload<'exchangeGrant'>): Promise<void> {
  const resource = await findResource(deps.pool, resourceId);
  if (!resource || resource.state !== 'provisioned') return;
  const outcome = await exchangeProvisionGrant(deps.partner, resourceId);
  if (outcome === 'failed') {
    deps.logger.warn({ resourceId }, 'partner grant could not be exchanged');
    await recordAudit(deps.pool, { resourceId, actor: 'system', action: 'heroku.authorization_failed' });
    return;
  }
  if (outcome === 'exchanged')
    await recordAudit(deps.pool, { resourceId, actor: 'system', action: 'heroku.authorized' });
  if (!resource.appId) {
    const addon = await withPartnerApi(deps.partner, resourceId, (api) => api.getAddon(resourceId));
    await updateResourceApp(deps.pool, resourceId, addon.app);
    deps.logger.info({ resourceId, appName: addon.app.name }, "learned the add-on's app");
  }
  // An admin may have connected Heroku before the app was known: the default source waited for it.
  if (await adoptDefaultSource(deps, resourceId, 'system'))
    await sendJob(deps.boss, 'preflight', { resourceId, trigger: 'connected' });
}
