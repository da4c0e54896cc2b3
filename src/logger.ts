import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Field paths that may carry credentials. Redaction is the last line of defence: code never logs
 * connection strings, tokens or presigned URLs on purpose.
 */
const REDACT = [
  'password',
  '*.password',
  'token',
  '*.token',
  'accessToken',
  'refreshToken',
  '*.access_token',
  '*.refresh_token',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'res.headers["set-cookie"]',
  'databaseUrl',
  '*.databaseUrl',
  'url',
  '*.url',
];

/** The root logger; processes bind context with `child({ requestId })` or `child({ queue, jobId, resourceId })`. */
export function createLogger(
  options: { level?: string; destination?: DestinationStream; base?: Record<string, unknown> } = {},
): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: options.base ?? { service: 'big-backup' },
      redact: { paths: REDACT, censor: '[redacted]' },
      // pino's standard serializer: `{ err }` keeps the type, message, stack and the chain of causes.
      serializers: { err: pino.stdSerializers.err },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}
