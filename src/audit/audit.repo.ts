import type { Queryable } from '../db/pool.ts';

/** One thing that happened to a resource, for its audit log. Never holds a secret. */
export interface AuditEvent {
  resourceId: string;
  /** `heroku` for the add-on manager, `system` for jobs, otherwise the user's email. */
  actor: string;
  action: string;
  detail?: Record<string, unknown>;
  ip?: string | null;
}

export async function recordAudit(db: Queryable, event: AuditEvent): Promise<void> {
  await db.query('insert into audit_events (resource_id, actor, action, detail, ip) values ($1, $2, $3, $4, $5)', [
    event.resourceId,
    event.actor,
    event.action,
    JSON.stringify(event.detail ?? {}),
    event.ip ?? null,
  ]);
}

export async function listAudit(
  db: Queryable,
  resourceId: string,
  limit = 100,
): Promise<Array<AuditEvent & { createdAt: Date }>> {
  const result = await db.query<{
    actor: string;
    action: string;
    detail: Record<string, unknown>;
    ip: string | null;
    created_at: Date;
  }>(
    'select actor, action, detail, ip, created_at from audit_events where resource_id = $1 order by created_at desc, id desc limit $2',
    [resourceId, limit],
  );
  return result.rows.map((r) => ({
    resourceId,
    actor: r.actor,
    action: r.action,
    detail: r.detail,
    ip: r.ip,
    createdAt: r.created_at,
  }));
}

export async function deleteAudit(db: Queryable, resourceId: string): Promise<void> {
  await db.query('delete from audit_events where resource_id = $1', [resourceId]);
}
