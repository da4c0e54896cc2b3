import type { SimContext } from '../context.ts';
import { ensureUser } from '../state/apps.ts';
import { createUserAuthorization, issueTokens } from '../state/authorizations.ts';
import { newId } from '../state/ids.ts';
import { tokenResponse, type TokenResponse } from './token-response.ts';

/** What `issueUserToken` needs. */
export interface UserTokenRequest {
  /** Email or id; unknown emails become new accounts. */
  user: string;
  /** Default `['global']`. */
  scopes?: string[];
  /** A configured user OAuth client; default: the first one, or a built-in simulator client. */
  clientId?: string;
}

/** Mints a user token directly, as if the user had approved an OAuth client (skips the browser dance). */
export function issueUserToken(ctx: SimContext, req: UserTokenRequest): TokenResponse {
  const now = ctx.now();
  const user = ensureUser(ctx.store, req.user, now);
  const clientId = req.clientId ?? firstUserClient(ctx);
  if (!ctx.store.clients.get(clientId)) throw new Error(`simulator: unknown OAuth client ${clientId}`);
  const authorization = createUserAuthorization(ctx.store, clientId, user.id, req.scopes ?? ['global'], now);
  const access = issueTokens(ctx.store, authorization, ctx.options.accessTokenTtlSeconds, now);
  return tokenResponse(authorization, access, now);
}

function firstUserClient(ctx: SimContext): string {
  for (const client of ctx.store.clients.values()) if (client.kind === 'user') return client.id;
  const id = newId();
  ctx.store.clients.set(id, { id, secret: newId(), kind: 'user', name: 'Heroku simulator', redirectUri: null });
  return id;
}
