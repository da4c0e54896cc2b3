import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';
import { withTransaction } from '../db/pool.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { notFound } from '../errors.ts';
import { parseOr422 } from '../validate.ts';
import type { Role } from '../users/resource-users.repo.ts';
import type { Actor } from '../users/actor.ts';
import { revokeLinksCreatedBy } from '../links/links.repo.ts';
import { insertApiToken, listApiTokens, revokeApiToken, useApiToken, type ApiToken } from './api-tokens.repo.ts';

/** Every token starts with this, so leaked tokens are easy to recognise (and to scan for). */
export const TOKEN_PREFIX = 'bbk_';

const NewTokenInput = z.object({
  name: z.string().trim().min(1, 'give the token a name').max(100, 'the name is longer than 100 characters'),
  role: z.enum(['admin', 'member']).default('member'),
});

/** The stable actor id of an API token, as links and audit lines record their creator. */
export function apiTokenActorId(tokenId: string): string {
  return `api_token:${tokenId}`;
}

export function hashApiToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Creates a token; the secret is returned here once and never again. */
export async function createApiToken(
  pool: pg.Pool,
  actor: Actor,
  input: unknown,
): Promise<{ token: ApiToken; secret: string }> {
  const { name, role } = parseOr422(NewTokenInput, input);
  const secret = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return withTransaction(pool, async (db) => {
    const token = await insertApiToken(db, {
      id: randomUUID(),
      resourceId: actor.resourceId,
      name,
      role,
      tokenHash: hashApiToken(secret),
      prefix: secret.slice(0, TOKEN_PREFIX.length + 6),
      createdBy: actor.label,
    });
    await recordAudit(db, {
      resourceId: actor.resourceId,
      actor: actor.label,
      action: 'api_token.created',
      detail: { tokenId: token.id, name, role },
      ip: actor.ip ?? null,
    });
    return { token, secret };
  });
}

export function listTokens(pool: pg.Pool, resourceId: string): Promise<ApiToken[]> {
  return listApiTokens(pool, resourceId);
}

/**
 * Revokes a token and every download link it made: a leaked token must not leave a week of working
 * links to whole-database archives behind it.
 */
export async function revokeToken(pool: pg.Pool, actor: Actor, tokenId: string): Promise<void> {
  await withTransaction(pool, async (db) => {
    if (!z.uuid().safeParse(tokenId).success || !(await revokeApiToken(db, actor.resourceId, tokenId, actor.label)))
      throw notFound('API token');
    const linksRevoked = await revokeLinksCreatedBy(db, actor.resourceId, apiTokenActorId(tokenId), actor.label);
    await recordAudit(db, {
      resourceId: actor.resourceId,
      actor: actor.label,
      action: 'api_token.revoked',
      detail: { tokenId, linksRevoked },
      ip: actor.ip ?? null,
    });
  });
}

/** The live token a bearer secret names (recording its use), or undefined. */
export async function authenticateApiToken(
  pool: pg.Pool,
  secret: string,
  ip: string | null,
): Promise<(ApiToken & { role: Role }) | undefined> {
  if (!secret.startsWith(TOKEN_PREFIX) || secret.length > 200) return undefined;
  return useApiToken(pool, hashApiToken(secret), ip);
}
