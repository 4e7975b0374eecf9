// Latency summaries. Nearest-rank percentiles: every figure is a latency that was observed.

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

function percentile(sorted: number[], p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

export function summarize(samplesMs: number[]): LatencySummary {
  if (samplesMs.length === 0) throw new Error('no samples to summarize');
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, x) => sum + x, 0) / sorted.length;
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1)!),
    mean: round(mean),
  };
}

/** Milliseconds since `start` (a performance.now() value). */
export const since = (start: number) => performance.now() - start;

/** The middle value (the lower one of an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** Repetitions of one latency row: each figure is the median of the repetitions' figures; count is their sum. */
export function medianSummary(runs: LatencySummary[]): LatencySummary {
  const med = (pick: (s: LatencySummary) => number) => median(runs.map(pick));
  return {
    count: runs.reduce((n, r) => n + r.count, 0),
    p50: med((s) => s.p50),
    p95: med((s) => s.p95),
    p99: med((s) => s.p99),
    max: med((s) => s.max),
    mean: med((s) => s.mean),
  };
}
