/** An error meant for the caller: a stable code, an HTTP status and a message safe to show. */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  /** For bad input: the fields at fault, so API clients can point at them. */
  readonly fields: string[] | undefined;
  constructor(code: string, status: number, message: string, options?: { cause?: unknown; fields?: string[] }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.fields = options?.fields;
  }
}

/** Input that is well-formed but cannot be honoured (Heroku shows `message` to the customer). */
export const unprocessable = (message: string, code = 'unprocessable', fields?: string[]) =>
  new AppError(code, 422, message, fields ? { fields } : {});
export const badRequest = (message: string) => new AppError('bad_request', 400, message);
export const unauthorized = (message = 'Unauthorized') => new AppError('unauthorized', 401, message);
export const forbidden = (message = 'Forbidden') => new AppError('forbidden', 403, message);
export const notFound = (what: string) => new AppError('not_found', 404, `${what} not found`);
export const gone = (message: string) => new AppError('gone', 410, message);
export const conflict = (message: string) => new AppError('conflict', 409, message);
export const tooManyRequests = (message: string) => new AppError('rate_limited', 429, message);
