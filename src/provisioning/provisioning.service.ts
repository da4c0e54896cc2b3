import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { withTransaction } from '../db/pool.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { gone, notFound, unprocessable } from '../errors.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { deleteResourceSessions } from '../users/resource-users.repo.ts';
import { insertPendingAuthorization } from '../heroku/authorizations.repo.ts';
import { SEALED } from '../heroku/partner-authorization.ts';
import { sendJob } from '../queue/send.ts';
import { saveLogInput, SEALED_LOG_INPUT } from '../notifications/log-inputs.repo.ts';
import { findSchedule } from '../backups/schedules.repo.ts';
import { requestResourceCancel } from '../backups/backups.repo.ts';
import { findPlan, planChangeBlockers, PLAN_SLUGS } from '../resources/plans.ts';
import { supportedRegion, SUPPORTED_REGIONS_TEXT } from '../resources/regions.ts';
import {
  findResource,
  insertResourceIfAbsent,
  lockResource,
  markResourceDeprovisioned,
  updateResourcePlan,
  type Resource,
} from '../resources/resources.repo.ts';

export interface ResourcesDeps {
  pool: pg.Pool;
  boss: PgBoss;
  secrets: SecretBox;
  publicUrl: string;
}

/** A provision request after validation (see http/heroku/schemas.ts). */
export interface ProvisionRequest {
  uuid: string;
  name: string;
  plan: string;
  region: string;
  callbackUrl: string | null;
  grant: { code: string; expiresAt: Date | null } | null;
  options: Record<string, string>;
  /** The app's Logplex input (manifest `requires: log_input`); stored sealed, for the log-stream channel. */
  logInputUrl?: string | null;
}

/** What Heroku receives: the same for every repeat of one provision. */
export interface ProvisionAnswer {
  id: string;
  config: { BIG_BACKUP_URL: string };
  message: string;
}

/**
 * Creates the resource, stores the grant for the exchange job and sends that job, all in one
 * transaction. Heroku delivers at least once, so a repeat (even a concurrent one) finds the row and
 * gets the same answer; the unique key on the uuid decides the race.
 */
export async function provision(deps: ResourcesDeps, request: ProvisionRequest): Promise<ProvisionAnswer> {
  const plan = findPlan(request.plan);
  if (!plan)
    throw unprocessable(`big-backup has no plan named "${request.plan}"; choose one of ${PLAN_SLUGS.join(', ')}`);
  if (!supportedRegion(request.region)) {
    throw unprocessable(
      `big-backup is not available in region ${request.region}; it runs in ${SUPPORTED_REGIONS_TEXT}`,
    );
  }
  const databaseAttachment = attachmentName(request.options.database);
  const existing = await withTransaction(deps.pool, async (tx) => {
    const created = await insertResourceIfAbsent(tx, {
      id: request.uuid,
      name: request.name,
      plan: plan.slug,
      region: request.region,
      callbackUrl: request.callbackUrl,
      options: request.options,
      databaseAttachment,
    });
    if (!created) return findResource(tx, request.uuid);
    await insertPendingAuthorization(tx, request.uuid, {
      codeCiphertext: request.grant ? deps.secrets.seal(request.grant.code, request.uuid, SEALED.grantCode) : null,
      expiresAt: request.grant?.expiresAt ?? null,
    });
    if (request.grant) await sendJob(deps.boss, 'exchangeGrant', { resourceId: request.uuid }, { db: tx });
    if (request.logInputUrl)
      await saveLogInput(tx, request.uuid, deps.secrets.seal(request.logInputUrl, request.uuid, SEALED_LOG_INPUT));
    await recordAudit(tx, {
      resourceId: request.uuid,
      actor: 'heroku',
      action: 'resource.provisioned',
      detail: { plan: plan.slug, region: request.region },
    });
    return created;
  });
  if (!existing) throw new Error('provisioned resource vanished');
  if (existing.state === 'deprovisioned') {
    throw unprocessable(
      'this add-on was deprovisioned and cannot be provisioned again; create a new big-backup add-on',
    );
  }
  return answerFor(deps.publicUrl, existing);
}

/** Moves a resource to another plan, or refuses with the reasons a customer can act on. */
export async function changePlan(
  deps: ResourcesDeps,
  resourceId: string,
  planSlug: string,
): Promise<{ message: string }> {
  const plan = findPlan(planSlug);
  if (!plan) throw unprocessable(`big-backup has no plan named "${planSlug}"; choose one of ${PLAN_SLUGS.join(', ')}`);
  return withTransaction(deps.pool, async (tx) => {
    const resource = await lockResource(tx, resourceId);
    if (!resource) throw notFound('add-on resource');
    if (resource.state !== 'provisioned') throw unprocessable('this add-on was deprovisioned; its plan cannot change');
    if (resource.plan === plan.slug) return { message: `big-backup is already on the ${plan.title} plan.` };
    // Read under the resource's lock, which saving a schedule takes too.
    const schedule = await findSchedule(tx, resourceId);
    const blockers = planChangeBlockers(
      { largestDatabaseBytes: resource.largestDatabaseBytes, scheduleFrequency: schedule?.frequency ?? null },
      plan,
    );
    if (blockers.length > 0) throw unprocessable(`Cannot switch to the ${plan.title} plan: ${blockers.join('; ')}.`);
    await updateResourcePlan(tx, resourceId, plan.slug);
    await recordAudit(tx, {
      resourceId,
      actor: 'heroku',
      action: 'resource.plan_changed',
      detail: { from: resource.plan, to: plan.slug },
    });
    return { message: `big-backup is now on the ${plan.title} plan; new limits apply to the next backup.` };
  });
}

/**
 * Ends a resource: sign-ins stop at once (sessions deleted, SSO refuses deprovisioned resources) and a
 * purge job removes its data. A repeated DELETE answers the same; an unknown uuid gets 410.
 */
export async function deprovision(deps: ResourcesDeps, resourceId: string): Promise<void> {
  await withTransaction(deps.pool, async (tx) => {
    const resource = await lockResource(tx, resourceId);
    if (!resource) throw gone('no such add-on resource (already removed?)');
    if (!(await markResourceDeprovisioned(tx, resourceId))) return;
    await deleteResourceSessions(tx, resourceId);
    // Running backups stop within seconds (their attempt watches this flag); queued ones never start.
    await requestResourceCancel(tx, resourceId);
    await sendJob(deps.boss, 'purgeResource', { resourceId }, { db: tx, singletonKey: resourceId });
    await recordAudit(tx, { resourceId, actor: 'heroku', action: 'resource.deprovisioned' });
  });
}

function answerFor(publicUrl: string, resource: Resource): ProvisionAnswer {
  return {
    id: resource.id,
    config: { BIG_BACKUP_URL: new URL(`/r/${resource.id}`, publicUrl).toString() },
    message:
      'big-backup is ready. Open its dashboard with `heroku addons:open big-backup` to connect your database and schedule backups.',
  };
}

/**
 * The attachment whose `<NAME>_URL` holds the database to back up. Customers write it several ways
 * (`DATABASE`, `DATABASE_URL`, `heroku-postgresql-red`); all name the same config var.
 */
export function attachmentName(option: string | undefined): string {
  if (option === undefined || option.trim() === '') return 'DATABASE';
  const name = option.trim().toUpperCase().replace(/-/g, '_').replace(/_URL$/, '');
  if (!/^[A-Z][A-Z0-9_]{0,62}$/.test(name)) {
    throw unprocessable(
      `the database option must name an attachment such as DATABASE or HEROKU_POSTGRESQL_RED (got "${option}")`,
    );
  }
  return name;
}
