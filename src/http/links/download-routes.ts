import { pipeline } from 'node:stream/promises';
import { Router, type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { AppDeps } from '../deps.ts';
import { PgRateLimitStore } from '../rate-limit-store.ts';
import { gone, tooManyRequests } from '../../errors.ts';
import { recordLinkUse, resolveLink, type ResolvedLink } from '../../links/links.service.ts';
import { attachmentDisposition } from '../../storage/validate.ts';
import { isStorageFailure } from '../../storage/errors.ts';

/** Requests per client IP per minute on `/d/…`, found or not, so tokens cannot be guessed at speed. */
export const DOWNLOAD_RATE_LIMIT = { windowMs: 60_000, limit: 60 } as const;
/** Presigned URLs live this long at most (and never past the link's own expiry). */
export const PRESIGN_SECONDS = 300;

/**
 * `GET|HEAD /d/<token>`: the download links people paste into curl or a browser. Mounted before the
 * session middleware: the token is the credential, so no cookie and no CSRF. On S3 the link answers
 * 302 to a presigned GET of at most five minutes (S3 then serves ranges itself); on local disk (the
 * embedded default) we stream the archive, honouring one byte range so large downloads resume.
 * The token never reaches a log: the request log redacts `/d/…` paths, and nothing here logs it.
 */
export function downloadRoutes(deps: AppDeps): Router {
  const router = Router();
  const limiter = rateLimit({
    ...DOWNLOAD_RATE_LIMIT,
    // Keyed on req.ip, which `trust proxy` = 1 takes from the hop Heroku's router appended, so a
    // client-sent X-Forwarded-For does not bypass it. Counted in PostgreSQL: one limit for all web processes.
    store: new PgRateLimitStore(deps.pool, 'download:'),
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, _res, next) =>
      next(tooManyRequests('Too many download requests from your address. Wait a minute and try again.')),
  });
  router.use(
    '/d',
    (_req, res, next) => {
      res.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer', 'X-Robots-Tag': 'noindex' });
      next();
    },
    limiter,
  );
  // Express answers HEAD with the GET route; the handler skips the body (and counts no use) for HEAD.
  router.get('/d/:token', async (req, res) => {
    const resolved = await resolveLink(deps.pool, req.params.token);
    await assertStored(deps, req, resolved);
    const canPresign = deps.store.kind === 's3';
    if (canPresign && req.method === 'GET') return redirectToStore(deps, req, res, resolved);
    return serveFromStore(deps, req, res, resolved);
  });
  return router;
}

/**
 * The object must still be there, sealed, and be the bytes the backup vouches for; never serve anything
 * else. A completed backup's archive is always sealed: one whose manifest is gone can no longer be proven
 * (the janitor marks it for re-verification), so it is not served on its size alone.
 */
async function assertStored(deps: AppDeps, req: Request, { backup }: ResolvedLink): Promise<void> {
  const info = await deps.store.head(backup.objectKey);
  if (info && info.bytes === backup.bytes && info.manifest && info.manifest.sha256 === backup.sha256) return;
  if (info && info.bytes === backup.bytes && !info.manifest) {
    req.log.error(
      { backupId: backup.id, found: { bytes: info.bytes, sealed: false } },
      'a download link leads to an archive whose manifest is missing; not served until it is re-verified',
    );
    throw gone('The backup behind this link awaits re-verification and cannot be downloaded until then.');
  }
  req.log.error(
    { backupId: backup.id, found: info ? { bytes: info.bytes, sealed: info.manifest !== null } : null },
    'a download link leads to a missing or different archive',
  );
  throw gone('The backup behind this link is no longer available.');
}

async function redirectToStore(deps: AppDeps, req: Request, res: Response, resolved: ResolvedLink): Promise<void> {
  const secondsLeft = Math.ceil((resolved.link.expiresAt.getTime() - Date.now()) / 1000);
  const expiresInSeconds = Math.max(1, Math.min(PRESIGN_SECONDS, secondsLeft));
  const url = await deps.store.presignGet(resolved.backup.objectKey, { expiresInSeconds, filename: resolved.filename });
  if (url === null) return serveFromStore(deps, req, res, resolved);
  await recordLinkUse(deps.pool, resolved, req.ip ?? null, { via: 'presigned', expiresInSeconds });
  req.log.info({ linkId: resolved.link.id, backupId: resolved.backup.id, via: 'presigned' }, 'download link used');
  res.status(302).set('Location', url).end();
}

async function serveFromStore(deps: AppDeps, req: Request, res: Response, resolved: ResolvedLink): Promise<void> {
  const { backup, filename } = resolved;
  const size = backup.bytes;
  const etag = `"${backup.sha256}"`;
  res.set({ 'Accept-Ranges': 'bytes', ETag: etag });
  const ifRange = req.get('if-range');
  const range = ifRange === undefined || ifRange === etag ? parseRange(req.get('range'), size) : null;
  if (range === 'unsatisfiable') {
    res
      .status(416)
      .set('Content-Range', `bytes */${size}`)
      .type('text/plain')
      .send('The requested range is outside the file.\n');
    return;
  }
  // Open the bytes and count the use before any header that describes them: an error after this
  // point would otherwise go out as an "attachment" with a Content-Range.
  let body;
  if (req.method !== 'HEAD') {
    try {
      body = await deps.store.read(backup.objectKey, range ? { start: range.start, end: range.end } : {});
    } catch (error) {
      if (isStorageFailure(error, 'not_found')) throw gone('The backup behind this link is no longer available.');
      throw error;
    }
    try {
      await recordLinkUse(
        deps.pool,
        resolved,
        req.ip ?? null,
        range ? { via: 'stream', range: `${range.start}-${range.end}` } : { via: 'stream' },
      );
    } catch (error) {
      body.destroy();
      throw error;
    }
  }
  res.set({
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': attachmentDisposition(filename),
    ...(backup.finishedAt ? { 'Last-Modified': backup.finishedAt.toUTCString() } : {}),
  });
  if (range)
    res.status(206).set({
      'Content-Range': `bytes ${range.start}-${range.end}/${size}`,
      'Content-Length': String(range.end - range.start + 1),
    });
  else res.status(200).set('Content-Length', String(size));
  if (!body) {
    res.end();
    return;
  }
  req.log.info(
    {
      linkId: resolved.link.id,
      backupId: backup.id,
      via: 'stream',
      ...(range ? { range: `${range.start}-${range.end}` } : {}),
    },
    'download link used',
  );
  try {
    await pipeline(body, res);
  } catch (error) {
    // Usually the client went away (a paused or cancelled download); it resumes with a Range request.
    req.log.info({ backupId: backup.id, reason: (error as Error).message }, 'download ended early');
  }
}

/**
 * One `bytes=` range (RFC 9110 §14): `a-b`, `a-` or `-n`, ends inclusive and clamped to the file.
 * Null means "send the whole file": no header, a malformed one, or several ranges (which a server may
 * ignore). 'unsatisfiable' means 416: the range starts at or past the end, or asks for 0 suffix bytes.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | null {
  if (header === undefined) return null;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return null;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return null;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return null;
  if (!Number.isSafeInteger(start) || start >= size) return 'unsatisfiable';
  return { start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}
