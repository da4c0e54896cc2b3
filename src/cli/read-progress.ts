import { Transform, pipeline } from 'node:stream';
import type { ObjectStore } from '../storage/object-store.ts';
import type { ProgressState } from './progress-bar.ts';

const REPORT_EVERY_MS = 500;

/**
 * The same store, except that whole-object reads report their progress. Verification reads a large
 * archive back for as long as a download takes; without this a terminal or a dyno's log would show
 * nothing for that whole time. Everything else goes straight to `store`.
 */
export function withReadProgress(store: ObjectStore, onProgress: (state: ProgressState) => void): ObjectStore {
  const read: ObjectStore['read'] = async (key, options) => {
    const body = await store.read(key, options);
    if (options?.start !== undefined || options?.end !== undefined) return body;
    const total = (await store.head(key))?.bytes ?? 0;
    const started = Date.now();
    let bytes = 0;
    let reportedAt = 0;
    const report = (force: boolean) => {
      const now = Date.now();
      if (!force && now - reportedAt < REPORT_EVERY_MS) return;
      reportedAt = now;
      const seconds = (now - started) / 1000;
      const bytesPerSecond = seconds > 0 ? bytes / seconds : 0;
      onProgress({
        verb: 'verified',
        bytes,
        bytesPerSecond,
        table: null,
        fraction: total > 0 ? bytes / total : null,
        etaSeconds: bytesPerSecond > 0 && seconds >= 2 ? (total - bytes) / bytesPerSecond : null,
      });
    };
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        report(false);
        done(null, chunk);
      },
      flush(done) {
        report(true);
        done();
      },
    });
    // Errors and destruction travel both ways, as if the caller read `body` itself.
    pipeline(body, counter, () => {});
    return counter;
  };
  return new Proxy(store, {
    get(target, property) {
      if (property === 'read') return read;
      const value: unknown = Reflect.get(target, property, target);
      // The drivers keep state in private fields, which only work with the driver itself as `this`.
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
