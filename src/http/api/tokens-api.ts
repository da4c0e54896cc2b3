import { Router } from 'express';
import type { AppDeps } from '../deps.ts';
import { requireAdmin } from '../middleware/api-auth.ts';
import { createApiToken, listTokens, revokeToken } from '../../api-tokens/api-tokens.service.ts';
import { actorOf } from './actor.ts';
import type { ApiToken } from '../../api-tokens/api-tokens.repo.ts';

/** `/api/v1/tokens`: admins create (secret shown once), list and revoke the resource's API tokens. */
export function tokensApi(deps: AppDeps): Router {
  const router = Router();
  router.get('/tokens', requireAdmin, async (req, res) => {
    res.json({ tokens: (await listTokens(deps.pool, req.viewer.resource.id)).map(tokenJson) });
  });
  router.post('/tokens', requireAdmin, async (req, res) => {
    const { token, secret } = await createApiToken(deps.pool, actorOf(req), req.body);
    res.status(201).json({ ...tokenJson(token), token: secret });
  });
  router.delete('/tokens/:id', requireAdmin, async (req, res) => {
    await revokeToken(deps.pool, actorOf(req), req.params.id as string);
    res.status(204).end();
  });
  return router;
}

export function tokenJson(token: ApiToken) {
  return {
    id: token.id,
    name: token.name,
    prefix: token.prefix,
    role: token.role,
    created_by: token.createdBy,
    created_at: token.createdAt.toISOString(),
    last_used_at: token.lastUsedAt?.toISOString() ?? null,
    last_used_ip: token.lastUsedIp,
    revoked_at: token.revokedAt?.toISOString() ?? null,
  };
}
