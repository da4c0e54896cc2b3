/**
 * Resolving the database of a run failed. `kind` is stored as the backup's failure kind; the message
 * is written to be shown to the customer and never holds a credential. `retryable` tells the job
 * whether another attempt could succeed.
 */
export class SourceError extends Error {
  readonly kind: string;
  readonly retryable: boolean;
  constructor(kind: string, message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SourceError';
    this.kind = kind;
    this.retryable = retryable;
  }
}
