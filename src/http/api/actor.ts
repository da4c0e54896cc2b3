import type { Request } from 'express';
import type { Actor } from '../../api-tokens/api-tokens.service.ts';

/** Who is acting on which resource, as services and the audit log need it. */
export function actorOf(req: Request): Actor {
  return { resourceId: req.viewer.resource.id, label: req.viewer.user.email, ip: req.ip ?? null };
}
