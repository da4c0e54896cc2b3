/**
 * A password or token that prints as `[redacted]` wherever it ends up: string templates, JSON (pino),
 * `util.inspect` and error causes. Call `reveal()` only where the value leaves the process on purpose.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The real value; only the password file and the probe connection need it. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[redacted]';
  }
}

// A password shorter than this is replaced only inside URIs, or every "a" in a log would go.
const MIN_LITERAL_SECRET = 4;

/**
 * Removes secrets from text that came from outside our code (pg_dump's stderr, driver errors): the
 * literal secrets, URI userinfo passwords and `password=` key/value pairs.
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length < MIN_LITERAL_SECRET) continue;
    result = result.split(secret).join('[redacted]');
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) result = result.split(encoded).join('[redacted]');
  }
  result = result.replace(/\b(postgres(?:ql)?:\/\/[^:/@\s]*):[^@\s]*@/gi, '$1:[redacted]@');
  result = result.replace(/\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, '$1[redacted]');
  return result;
}
