import type { Request } from 'express';
import { apiTokenActorId } from '../../api-tokens/api-tokens.service.ts';
import type { Actor } from '../../users/actor.ts';
import type { Role } from '../../users/resource-users.repo.ts';

/** Who is acting on which resource, with their role, as services and the audit log need it. */
export function actorOf(req: Request): Actor & { role: Role } {
  const id = req.apiToken ? apiTokenActorId(req.apiToken.id) : `user:${req.viewer.user.herokuUserId}`;
  return {
    resourceId: req.viewer.resource.id,
    id,
    label: req.viewer.user.email,
    ip: req.ip ?? null,
    role: req.viewer.user.role,
  };
}
