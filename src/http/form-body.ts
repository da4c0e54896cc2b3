import type { Request } from 'express';

/**
 * A request's parsed body (form or JSON) as untyped fields: Express types it `any`, this makes each
 * field `unknown` until the code that reads it (a zod schema in the service, or a typeof test) checks it.
 */
export function formBody(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
}

/** One field of the body when it is a string (a form field), else undefined. */
export function formField(req: Request, name: string): string | undefined {
  const value = formBody(req)[name];
  return typeof value === 'string' ? value : undefined;
}
