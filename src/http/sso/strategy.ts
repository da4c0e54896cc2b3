import { createHash } from 'node:crypto';
import { Strategy } from 'passport-strategy';
import type { Request } from 'express';
import type pg from 'pg';
import { withTransaction } from '../../db/pool.ts';
import { SSO_TOKEN_USE_RETENTION_SECONDS, verifySsoPost } from '../../sso/sso-token.ts';
import { lockResource } from '../../resources/resources.repo.ts';
import { recordSignIn } from '../../users/resource-users.repo.ts';
import { recordAudit } from '../../audit/audit.repo.ts';
import { claimSsoTokenUse } from '../../sso/sso-token-uses.repo.ts';

/** What the session remembers about who is signed in: a resource and a Heroku user, nothing else. */
export interface SessionUser {
  resourceId: string;
  userId: string;
}

/**
 * Passport strategy for Heroku's v3 single sign-on form post. A refusal is always `fail(…, 403)`;
 * the reason is logged, not shown, so the page gives an attacker nothing to tune against.
 */
export class HerokuSsoStrategy extends Strategy {
  name = 'heroku-sso';
  // Not `#private`: passport authenticates on `Object.create(strategy)`, and a JavaScript private
  // field cannot be read through a prototype.
  private readonly pool: pg.Pool;
  private readonly salt: string;
  private readonly nowSeconds: () => number;

  constructor(options: { pool: pg.Pool; salt: string; nowSeconds: () => number }) {
    super();
    this.pool = options.pool;
    this.salt = options.salt;
    this.nowSeconds = options.nowSeconds;
  }

  override authenticate(req: Request): void {
    this.check(req).then(
      (outcome) => ('user' in outcome ? this.success(outcome.user) : this.fail({ message: outcome.reason }, 403)),
      (error: unknown) => this.error(error as Error),
    );
  }

  private async check(req: Request): Promise<{ user: SessionUser } | { reason: string }> {
    const verdict = verifySsoPost(req.body, this.salt, this.nowSeconds());
    if (!verdict.ok) return { reason: verdict.reason };
    const { claims } = verdict;
    return withTransaction(this.pool, async (tx) => {
      const resource = await lockResource(tx, claims.resourceId);
      if (!resource || resource.state !== 'provisioned') return { reason: 'unknown or deprovisioned resource' };
      // A token signs one sign-in: keep its hash for longer than it stays valid and refuse it twice.
      const tokenHash = createHash('sha256').update(claims.token).digest('hex');
      if (!(await claimSsoTokenUse(tx, tokenHash, SSO_TOKEN_USE_RETENTION_SECONDS)))
        return { reason: 'sign-on token replayed' };
      const user = await recordSignIn(tx, resource.id, claims.userId, claims.email);
      await recordAudit(tx, {
        resourceId: resource.id,
        actor: user.email,
        action: 'user.signed_in',
        detail: { role: user.role },
        ip: req.ip ?? null,
      });
      return { user: { resourceId: resource.id, userId: claims.userId } };
    });
  }
}
