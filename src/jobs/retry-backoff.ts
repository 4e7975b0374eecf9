// The deployment queue's backoff: exponential from `delay`, capped at `maxDelay`, with jitter so
// that hundreds of jobs failed by one outage do not all come back in the same millisecond. The
// jitter is derived from the job id and the attempt, not drawn at random: the worker (which waits)
// and the processor (which tells the customer how long) compute the same delay from the job's
// own options.
import { createHash } from 'node:crypto';
import type { BackoffOptions, MinimalJob } from 'bullmq';

export const CAPPED_EXPONENTIAL = 'capped-exponential';

export interface CappedBackoff extends BackoffOptions {
  type: typeof CAPPED_EXPONENTIAL;
  /** The first retry's delay (before jitter); each next one doubles it. */
  delay: number;
  /** No retry waits longer than this. */
  maxDelay: number;
  /** The share of each delay that is random, 0 to 1: 0.5 waits between half and all of it. */
  jitter: number;
}

export function cappedBackoff(delay: number, maxDelay: number, jitter = 0.5): CappedBackoff {
  return { type: CAPPED_EXPONENTIAL, delay, maxDelay: Math.max(delay, maxDelay), jitter };
}

/** A number in [0, 1) fixed by the job and the attempt. */
function spread(jobId: string, attempt: number): number {
  return createHash('sha256').update(`${jobId}:${attempt}`).digest().readUInt32BE(0) / 2 ** 32;
}

/** How long after `attempt` (1 = the first) failed the next one starts. */
export function retryDelayMs(backoff: CappedBackoff, attempt: number, jobId: string): number {
  const full = Math.min(backoff.maxDelay, backoff.delay * 2 ** Math.min(attempt - 1, 40));
  return Math.round(full * (1 - backoff.jitter) + full * backoff.jitter * spread(jobId, attempt));
}

/**
 * Attempts enough for retries to keep going for `horizonMs` even if every delay is the shortest
 * the jitter allows; the processor, not this count, decides when retrying stops.
 */
export function attemptsCovering(backoff: CappedBackoff, horizonMs: number): number {
  let attempts = 1;
  for (let waited = 0; waited <= horizonMs && attempts < 1_000_000; attempts += 1) {
    waited += Math.max(1, retryDelayMs({ ...backoff, jitter: 0 }, attempts, '') * (1 - backoff.jitter));
  }
  return attempts + 1;
}

/** The job's backoff, as the queue factory set it. */
export function backoffOf(job: MinimalJob): CappedBackoff {
  const backoff = job.opts.backoff;
  if (typeof backoff === 'object' && backoff.type === CAPPED_EXPONENTIAL) return backoff as CappedBackoff;
  // A job added by an older release (plain exponential): the same curve, no cap but an hour's.
  const delay = typeof backoff === 'number' ? backoff : (backoff?.delay ?? 1000);
  return cappedBackoff(delay, 3_600_000, 0);
}

/** BullMQ's hook for custom backoff types (Worker `settings.backoffStrategy`). */
export function backoffStrategy(attemptsMade: number, type: string | undefined, _error: Error | undefined, job: MinimalJob | undefined): number {
  if (type !== CAPPED_EXPONENTIAL || !job) return 0;
  return retryDelayMs(backoffOf(job), attemptsMade, job.id ?? '');
}
