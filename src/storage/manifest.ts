import { z } from 'zod';

/**
 * The sidecar `<key>.manifest.json` that seals an object. It is written last, after the stored
 * size was checked against the bytes read, so it doubles as the completion marker (WAL-G's
 * "sentinel written last"): an object without one was never completed. It keeps our SHA-256 in the
 * store itself, beside the copy in our database, so `verify --key` can re-check an archive with
 * nothing but the store.
 *
 * Why a sidecar and not object metadata: S3 takes metadata at CreateMultipartUpload, before the
 * digest exists; changing it afterwards means a copy of the whole object (CopyObject only up to
 * 5 GiB, UploadPartCopy beyond — a full server-side rewrite of a terabyte archive). Object tags
 * could hold it, but need an extra permission, are mutable by anyone allowed to tag, and some
 * S3-compatible stores lack them. A small object works on every store and on disk alike.
 */
export const manifestSchema = z.object({
  version: z.literal(1),
  key: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  sealedAt: z.iso.datetime(),
  metadata: z.record(z.string(), z.string()),
  /** S3 only: the part size used and the object's ETag when sealed (a replaced object changes it). */
  partSize: z.number().int().positive().optional(),
  etag: z.string().optional(),
});

export type ObjectManifest = z.infer<typeof manifestSchema>;

/** Parses a stored manifest; null when it is not valid JSON, not a manifest, or names another key. */
export function parseManifest(text: string, key: string): ObjectManifest | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success || parsed.data.key !== key) return null;
  return parsed.data;
}

export function serializeManifest(manifest: ObjectManifest): string {
  return JSON.stringify(manifest, null, 2) + '\n';
}
