import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

/**
 * Checks the add-on manager's Basic credentials (manifest id and api.password). Both parts are hashed
 * before comparing so the comparison takes the same time whatever the lengths, and every refusal is
 * the same JSON 401.
 */
export function herokuBasicAuth(addonId: string, password: string): RequestHandler {
  const expected = digest(`${addonId}:${password}`);
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    const given = match ? digest(Buffer.from(match[1]!, 'base64').toString('utf8')) : digest('');
    if (match && timingSafeEqual(given, expected)) return next();
    res
      .set('WWW-Authenticate', 'Basic realm="big-backup"')
      .status(401)
      .json({ id: 'unauthorized', message: 'Unauthorized' });
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
