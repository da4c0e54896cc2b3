/** Most samples kept: when full, every other one is dropped, so a run of any length fits. */
export const MAX_SAMPLES = 240;

/**
 * Progress over a run, for the backup page's throughput chart: `[seconds since start, bytes]` pairs.
 * Memory and the row stay bounded: past MAX_SAMPLES the series is thinned to half and sampled half as often.
 */
export function createThroughputSamples(startedAt: number) {
  let samples: Array<[number, number]> = [];
  let every = 1;
  let seen = 0;
  return {
    add(now: number, bytes: number): void {
      if (seen++ % every !== 0) return;
      samples.push([Math.round((now - startedAt) / 1000), bytes]);
      if (samples.length > MAX_SAMPLES) {
        samples = samples.filter((_, i) => i % 2 === 0);
        every *= 2;
      }
    },
    list(): Array<[number, number]> {
      return samples;
    },
  };
}
