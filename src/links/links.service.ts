import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';
import { withTransaction } from '../db/pool.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { AppError, forbidden, gone, notFound } from '../errors.ts';
import { parseOr422 } from '../validate.ts';
import { findResourceBackup } from '../backups/backups.repo.ts';
import { findResource, type Resource } from '../resources/resources.repo.ts';
import type { Backup } from '../backups/backup.ts';
import type { Actor } from '../users/actor.ts';
import type { Role } from '../users/resource-users.repo.ts';
import {
  findLinkByHash,
  findResourceDownloadLink,
  insertDownloadLink,
  isPurgedLink,
  listDownloadLinks,
  recordDownloadLinkUse,
  revokeDownloadLink,
  type DownloadLink,
} from './links.repo.ts';

/** Every link token starts with this, so leaked links are easy to recognise (and to scan for). */
export const LINK_TOKEN_PREFIX = 'bbl_';
/** `bbl_` and 32 random bytes in base64url (256 bits; ASVS 11.5.1 asks for at least 128). */
const TOKEN_SHAPE = /^bbl_[A-Za-z0-9_-]{43}$/;

/** How long a link may live: a minute to a week (the SigV4 ceiling, and long enough for a slow restore). */
export const LINK_LIMITS = { MIN_SECONDS: 60, MAX_SECONDS: 7 * 86_400, DEFAULT_SECONDS: 3_600 } as const;

const NewLinkInput = z.strictObject({
  expires_in_seconds: z
    .number({ error: 'expires_in_seconds must be a number of seconds' })
    .int('expires_in_seconds must be a whole number of seconds')
    .min(LINK_LIMITS.MIN_SECONDS, `expires_in_seconds must be at least ${LINK_LIMITS.MIN_SECONDS} (one minute)`)
    .max(LINK_LIMITS.MAX_SECONDS, `expires_in_seconds must be at most ${LINK_LIMITS.MAX_SECONDS} (seven days)`)
    .default(LINK_LIMITS.DEFAULT_SECONDS),
});

export interface LinksDeps {
  pool: pg.Pool;
  /** The app's public base URL; links are `<PUBLIC_URL>/d/<token>`. */
  publicUrl: string;
}

/** Revoking needs to know whether the actor is an admin (who may revoke any link of the resource). */
export type LinkActor = Actor & { role: Role };

export function hashLinkToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Only completed backups whose read-back verification passed may leave the building. */
export function isDownloadable(
  backup: Pick<Backup, 'state' | 'verifiedAt' | 'objectKey' | 'reverificationRequestedAt'>,
): boolean {
  return (
    backup.state === 'completed' &&
    backup.verifiedAt !== null &&
    backup.objectKey !== null &&
    !backup.reverificationRequestedAt
  );
}

/** Why a backup cannot be downloaded, for the 409 when someone asks for a link to it. */
function notDownloadableReason(backup: Backup): string {
  if (backup.state === 'corrupt')
    return `is corrupt (${backup.corruptionReason ?? 'its stored archive failed a re-check'})`;
  if (backup.state !== 'completed') return `is ${backup.state}`;
  if (backup.reverificationRequestedAt) {
    return `awaits re-verification (${backup.reverificationReason ?? 'its archive can no longer be proven'})`;
  }
  return 'is not verified';
}

/** `<app>-<b001>-<YYYYMMDD>.dump` (or `.dump.zst` for the fast format), from the backup's start date in UTC. */
export function downloadFilename(
  resource: Pick<Resource, 'appName' | 'name'>,
  backup: Pick<Backup, 'name' | 'createdAt' | 'objectKey'>,
): string {
  const app = (resource.appName ?? resource.name).replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[.-]+/, '') || 'backup';
  const day = backup.createdAt.toISOString().slice(0, 10).replace(/-/g, '');
  const extension = backup.objectKey?.endsWith('.dump.zst') ? '.dump.zst' : '.dump';
  return `${app}-${backup.name}-${day}${extension}`;
}

/**
 * Creates a link to one of the actor's resource's backups. The token is returned here (inside `url`)
 * once and never again; only its SHA-256 is stored.
 */
export async function createDownloadLink(
  deps: LinksDeps,
  actor: Actor,
  backupId: string,
  input: unknown,
): Promise<{ link: DownloadLink; url: string; expiresAt: Date; backup: Backup; filename: string }> {
  const { expires_in_seconds: expiresInSeconds } = parseOr422(NewLinkInput, input ?? {});
  const backup = await findOwnBackup(deps.pool, actor.resourceId, backupId);
  if (!isDownloadable(backup)) {
    throw new AppError(
      'backup_not_downloadable',
      409,
      `Backup ${backup.name} ${notDownloadableReason(backup)}; only completed, verified backups can be downloaded.`,
    );
  }
  const resource = await findResource(deps.pool, actor.resourceId);
  if (!resource || resource.state !== 'provisioned') throw notFound('backup');
  const token = LINK_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const link = await withTransaction(deps.pool, async (db) => {
    const created = await insertDownloadLink(db, {
      id: randomUUID(),
      resourceId: actor.resourceId,
      backupId: backup.id,
      tokenHash: hashLinkToken(token),
      prefix: token.slice(0, LINK_TOKEN_PREFIX.length + 6),
      createdBy: actor.label,
      createdById: actor.id,
      createdIp: actor.ip ?? null,
      expiresInSeconds,
    });
    await recordAudit(db, {
      resourceId: actor.resourceId,
      actor: actor.label,
      action: 'link.created',
      ip: actor.ip ?? null,
      detail: {
        linkId: created.id,
        prefix: created.prefix,
        backupId: backup.id,
        backup: backup.name,
        expiresAt: created.expiresAt.toISOString(),
      },
    });
    return created;
  });
  const url = `${deps.publicUrl.replace(/\/+$/, '')}/d/${token}`;
  return { link, url, expiresAt: link.expiresAt, backup, filename: downloadFilename(resource, backup) };
}

/** A backup's links (never their tokens); another resource's backup is not found. */
export async function listLinks(pool: pg.Pool, resourceId: string, backupId: string): Promise<DownloadLink[]> {
  const backup = await findOwnBackup(pool, resourceId, backupId);
  return listDownloadLinks(pool, resourceId, backup.id);
}

/** Admins revoke any of the resource's links, others only their own (by who made it; by name for links older than that). */
export function mayRevoke(
  link: Pick<DownloadLink, 'createdBy' | 'createdById'>,
  actor: Pick<LinkActor, 'id' | 'label' | 'role'>,
): boolean {
  const own = link.createdById === null ? link.createdBy === actor.label : link.createdById === actor.id;
  return actor.role === 'admin' || own;
}

/** Revokes a link if `mayRevoke` allows it. Revoking a revoked link changes nothing. */
export async function revokeLink(pool: pg.Pool, actor: LinkActor, linkId: string): Promise<void> {
  if (!z.uuid().safeParse(linkId).success) throw notFound('download link');
  await withTransaction(pool, async (db) => {
    const link = await findResourceDownloadLink(db, actor.resourceId, linkId);
    if (!link) throw notFound('download link');
    if (!mayRevoke(link, actor)) throw forbidden('Only an admin or the person who created this link can revoke it.');
    if (!(await revokeDownloadLink(db, actor.resourceId, linkId, actor.label))) return;
    await recordAudit(db, {
      resourceId: actor.resourceId,
      actor: actor.label,
      action: 'link.revoked',
      detail: { linkId, prefix: link.prefix },
      ip: actor.ip ?? null,
    });
  });
}

const ADDON_REMOVED = 'This add-on was removed; its backups can no longer be downloaded.';

/** What a live link leads to. */
export interface ResolvedLink {
  link: DownloadLink;
  backup: Backup & { objectKey: string; bytes: number; sha256: string };
  resource: Resource;
  filename: string;
}

/**
 * The live link a token names, without recording anything (HEAD, and checks before a download).
 * Unknown or malformed tokens → 404; expired, revoked, or leading to a backup that is no longer
 * downloadable or a resource that was deprovisioned → 410, also after the purge removed the link, for
 * as long as the resource's tombstone exists. Tokens are found by hash lookup only.
 */
export async function resolveLink(pool: pg.Pool, token: string): Promise<ResolvedLink> {
  if (!TOKEN_SHAPE.test(token)) throw notFound('download link');
  const tokenHash = hashLinkToken(token);
  const found = await findLinkByHash(pool, tokenHash);
  if (!found) {
    if (await isPurgedLink(pool, tokenHash)) throw gone(ADDON_REMOVED);
    throw notFound('download link');
  }
  const { link } = found;
  if (found.resourceState !== 'provisioned') throw gone(ADDON_REMOVED);
  if (link.revokedAt) throw gone('This download link was revoked. Create a new one on the big-backup dashboard.');
  if (found.expired) throw gone('This download link has expired. Create a new one on the big-backup dashboard.');
  const [backup, resource] = await Promise.all([
    findResourceBackup(pool, link.resourceId, link.backupId),
    findResource(pool, link.resourceId),
  ]);
  if (backup?.state === 'completed' && backup.reverificationRequestedAt) {
    throw gone('The backup behind this link awaits re-verification and cannot be downloaded until then.');
  }
  if (backup?.state === 'corrupt') {
    throw gone('A re-check found the archive behind this link changed or missing; it can no longer be downloaded.');
  }
  if (!backup || !resource || !isDownloadable(backup) || backup.bytes === null || backup.sha256 === null) {
    throw gone('The backup behind this link is no longer available.');
  }
  return { link, backup: backup as ResolvedLink['backup'], resource, filename: downloadFilename(resource, backup) };
}

/** Counts a use and writes the `link.used` audit event; 410 if the link died since it was resolved. */
export async function recordLinkUse(
  pool: pg.Pool,
  resolved: ResolvedLink,
  ip: string | null,
  detail: Record<string, unknown> = {},
): Promise<void> {
  const { link, backup } = resolved;
  await withTransaction(pool, async (db) => {
    if (!(await recordDownloadLinkUse(db, link.id, ip))) throw gone('This download link has expired or was revoked.');
    await recordAudit(db, {
      resourceId: link.resourceId,
      actor: `download link ${link.prefix}`,
      action: 'link.used',
      ip,
      detail: {
        linkId: link.id,
        prefix: link.prefix,
        backupId: backup.id,
        backup: backup.name,
        createdBy: link.createdBy,
        ...detail,
      },
    });
  });
}

/** Resolves a token and records its use: what a download does. */
export async function redeemLink(pool: pg.Pool, token: string, ip: string | null): Promise<ResolvedLink> {
  const resolved = await resolveLink(pool, token);
  await recordLinkUse(pool, resolved, ip);
  return resolved;
}

async function findOwnBackup(pool: pg.Pool, resourceId: string, backupId: string): Promise<Backup> {
  const backup = z.uuid().safeParse(backupId).success
    ? await findResourceBackup(pool, resourceId, backupId)
    : undefined;
  if (!backup) throw notFound('backup');
  return backup;
}
