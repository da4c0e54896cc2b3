import { Router } from 'express';
import type { AppDeps } from '../deps.ts';
import { createDownloadLink, listLinks, revokeLink } from '../../links/links.service.ts';
import type { DownloadLink } from '../../links/links.repo.ts';
import { actorOf } from './actor.ts';

/**
 * Download links: members and admins create them for one of the resource's completed backups (the
 * URL, token included, is in the 201 once and never again), list a backup's links (prefix only), and
 * revoke them (admins any, others their own).
 */
export function linksApi(deps: AppDeps): Router {
  const router = Router();
  router.post('/backups/:id/links', async (req, res) => {
    const { link, url, expiresAt, backup, filename } = await createDownloadLink(
      { pool: deps.pool, publicUrl: deps.config.PUBLIC_URL },
      actorOf(req),
      req.params.id,
      req.body,
    );
    res.status(201).json({
      ...linkJson(link),
      url,
      filename,
      expires_at: expiresAt.toISOString(),
      backup: { id: backup.id, name: backup.name, bytes: backup.bytes, sha256: backup.sha256 },
    });
  });
  router.get('/backups/:id/links', async (req, res) => {
    res.json({ links: (await listLinks(deps.pool, req.viewer.resource.id, req.params.id)).map(linkJson) });
  });
  router.delete('/links/:id', async (req, res) => {
    await revokeLink(deps.pool, actorOf(req), req.params.id);
    res.status(204).end();
  });
  return router;
}

export function linkJson(link: DownloadLink) {
  const now = Date.now();
  return {
    id: link.id,
    prefix: link.prefix,
    backup_id: link.backupId,
    created_by: link.createdBy,
    created_ip: link.createdIp,
    created_at: link.createdAt.toISOString(),
    expires_at: link.expiresAt.toISOString(),
    status: link.revokedAt ? 'revoked' : link.expiresAt.getTime() <= now ? 'expired' : 'active',
    revoked_at: link.revokedAt?.toISOString() ?? null,
    revoked_by: link.revokedBy,
    last_used_at: link.lastUsedAt?.toISOString() ?? null,
    last_used_ip: link.lastUsedIp,
    use_count: link.useCount,
  };
}
