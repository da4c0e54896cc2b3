import { pino, type DestinationStream } from 'pino';

/**
 * Where development entry points log: on a terminal, pino-pretty's readable lines (in pino's transport
 * thread); otherwise undefined, i.e. the JSON lines production writes, which tests and tools read.
 */
export function terminalDestination(stream: { isTTY?: boolean } = process.stdout): DestinationStream | undefined {
  if (!stream.isTTY) return undefined;
  return pino.transport({
    target: 'pino-pretty',
    options: { colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service,process' },
  });
}
