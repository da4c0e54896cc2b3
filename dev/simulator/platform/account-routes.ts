import { Router } from 'express';
import type { SimContext } from '../context.ts';
import { principal } from '../http/authenticate.ts';
import { notFound } from '../http/errors.ts';
import { requireUserToken } from './access.ts';
import { accountJson } from './serialize.ts';

/** `GET /account`: who a user token acts for. Mount behind authenticate. */
export function accountRoutes(ctx: SimContext): Router {
  const router = Router();
  router.get('/account', (_req, res) => {
    const p = principal(res);
    requireUserToken(p, 'read an account');
    const user = ctx.store.users.get(p.authorization.userId);
    if (!user) throw notFound('account');
    res.json(accountJson(user));
  });
  return router;
}
