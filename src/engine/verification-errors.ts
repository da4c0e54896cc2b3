/** The stored archive is not the one that was written, or not a readable archive. */
export class VerificationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'VerificationError';
  }
}

/** Reading the object back failed (the store or the connection), which says nothing about the archive: worth another read. */
export class ReadBackError extends VerificationError {
  constructor(error: unknown) {
    super(`reading the archive back failed: ${(error as Error).message}`, { cause: error });
    this.name = 'ReadBackError';
  }
}
