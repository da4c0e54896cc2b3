import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Encrypts secrets at rest (OAuth tokens, database URLs) with AES-256-GCM.
 *
 * Format: `v1.<key id>.<iv>.<ciphertext>.<tag>` (base64url parts). The key id lets a value name the
 * key that sealed it, so keys rotate without a flag day: the first configured key seals, every key
 * opens. The additional authenticated data binds a value to its owner and column, so a ciphertext
 * copied into another tenant's row, or another column, fails to open.
 */
export class SecretBox {
  readonly #keys: Map<string, Buffer>;
  readonly #currentId: string;
  /** Every configured key's id, in ENCRYPTION_KEY's order: the first seals. */
  readonly keyIds: readonly string[];

  constructor(base64Keys: string[]) {
    if (base64Keys.length === 0) throw new Error('SecretBox needs at least one key');
    this.#keys = new Map();
    for (const encoded of base64Keys) {
      const key = Buffer.from(encoded, 'base64');
      if (key.length !== 32) throw new Error('encryption keys must be 32 bytes');
      this.#keys.set(keyId(key), key);
    }
    this.#currentId = keyId(Buffer.from(base64Keys[0]!, 'base64'));
    this.keyIds = base64Keys.map((encoded) => keyId(Buffer.from(encoded, 'base64')));
  }

  /** The id of the key that seals: values whose id differs need re-sealing. */
  get currentKeyId(): string {
    return this.#currentId;
  }

  /** Seals `plaintext` for one owner (e.g. a resource id) and purpose (e.g. a column name). */
  seal(plaintext: string, owner: string, purpose: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.#currentId)!, iv);
    cipher.setAAD(aad(owner, purpose));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      'v1',
      this.#currentId,
      iv.toString('base64url'),
      body.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.');
  }

  /** Opens a sealed value; throws when it was sealed for another owner or purpose, tampered with, or by an unknown key. */
  open(sealed: string, owner: string, purpose: string): string {
    const [version, id, iv, body, tag] = sealed.split('.');
    if (version !== 'v1' || !id || iv === undefined || body === undefined || !tag)
      throw new Error('not a sealed value');
    const key = this.#keys.get(id);
    if (!key) throw new Error(`sealed with an unknown key (${id}); is an old ENCRYPTION_KEY missing from the list?`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(aad(owner, purpose));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('sealed value failed authentication (wrong owner, purpose or key, or tampered)');
    }
  }

  /** True when the value was sealed by a key other than the current one and should be re-sealed. */
  needsRotation(sealed: string): boolean {
    return sealed.split('.')[1] !== this.#currentId;
  }

  /** Opens a value under whichever configured key sealed it and seals it again under the current key. */
  reseal(sealed: string, owner: string, purpose: string): string {
    return this.seal(this.open(sealed, owner, purpose), owner, purpose);
  }
}

function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

function aad(owner: string, purpose: string): Buffer {
  return Buffer.from(`big-backup:${owner}:${purpose}`, 'utf8');
}
