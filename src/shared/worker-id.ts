import { hostname } from 'node:os';

/**
 * Names this worker process on the records it leaves (a piece of a sharded backup says who dumped it):
 * the dyno's name on Heroku (`worker.2`), the host name elsewhere, and the process id.
 */
export function workerId(env: Record<string, string | undefined> = process.env): string {
  return `${env.DYNO ?? hostname()}:${process.pid}`;
}
