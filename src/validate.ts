import type { z } from 'zod';
import { unprocessable } from './errors.ts';

/** Parses input with a zod schema, or throws a 422 whose message names each bad field. */
export function parseOr422<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.join('.');
    return field && !issue.message.startsWith(field) ? `${field}: ${issue.message}` : issue.message;
  });
  const fields = [...new Set(result.error.issues.map((issue) => issue.path.join('.')).filter(Boolean))];
  throw unprocessable(problems.join('; '), 'invalid_input', fields);
}
