/** An SVG polyline of throughput over a run, from `[seconds, bytes]` samples, for the backup page. */
export interface ThroughputChart {
  width: number;
  height: number;
  points: string;
  peakBytesPerSecond: number;
  seconds: number;
}

/** Null when there are too few samples to draw (a run of a second or two). */
export function throughputChart(
  samples: ReadonlyArray<readonly [number, number]>,
  width = 600,
  height = 120,
): ThroughputChart | null {
  const rates: Array<[number, number]> = [];
  for (let i = 1; i < samples.length; i++) {
    const [t0, b0] = samples[i - 1]!;
    const [t1, b1] = samples[i]!;
    if (t1 > t0) rates.push([t1, Math.max(0, (b1 - b0) / (t1 - t0))]);
  }
  if (rates.length < 2) return null;
  const seconds = rates.at(-1)![0];
  const peak = Math.max(...rates.map(([, r]) => r), 1);
  const points = [[samples[0]![0], rates[0]![1]] as [number, number], ...rates]
    .map(([t, r]) => `${((t / seconds) * width).toFixed(1)},${(height - (r / peak) * (height - 4)).toFixed(1)}`)
    .join(' ');
  return { width, height, points, peakBytesPerSecond: peak, seconds };
}
