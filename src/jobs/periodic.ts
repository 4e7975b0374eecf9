// Periodic work of the worker processes (the reconcilers, the offer-expiry scheduler's upkeep):
// a timer in every process, and, with a claim in Redis, one run per interval across them all.
import type { Queue } from 'bullmq';
import type { Logger } from '../platform/logger.ts';
import type { RedisClient } from '../platform/redis.ts';

/**
 * KEYS[1]: the periodic job's key; ARGV[1]: its interval (ms). Claims the current interval (by
 * Redis' clock, so the hosts' clocks do not matter): its number for the first caller in it, -1
 * for the others.
 */
const CLAIM_INTERVAL = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local current = math.floor(now / interval)
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
if last >= current then return -1 end
redis.call('SET', KEYS[1], current, 'PX', interval * 3)
return current`;

/** A periodic job that runs once per interval across every process that starts it. */
export interface PeriodicClaim {
  /** The queue whose Redis (and prefix) holds the claims. */
  queue: Queue<any>;
  /** The job's name: one claim per name. */
  name: string;
}

/** The number of the current interval when this process runs the periodic job in it, else null. */
export async function claimInterval({ queue, name }: PeriodicClaim, intervalMs: number): Promise<number | null> {
  await queue.waitUntilReady();
  const redis = queue.opts.connection as RedisClient; // the producer connection createQueue gave it
  // One key: on a Redis Cluster it lives beside the queue's own keys (the same hash tag).
  const key = `${queue.opts.prefix}:${queue.name}:periodic:${name}`;
  const interval = Number(await redis.eval(CLAIM_INTERVAL, 1, key, intervalMs));
  return interval >= 0 ? interval : null;
}

/**
 * Runs `work` now and then every `intervalMs`, never two runs at once in a process, and (with a
 * claim) once per interval across processes: every process ticks, the first in an interval runs it.
 */
export function startPeriodic(name: string, work: () => Promise<unknown>, intervalMs: number, logger: Logger, claim?: PeriodicClaim) {
  let running: Promise<unknown> | null = null;
  const run = async () => {
    const interval = claim ? await claimInterval(claim, intervalMs) : undefined;
    if (interval === null) return;
    logger.debug({ periodic: name, interval }, 'periodic run');
    await work();
  };
  const tick = () => {
    if (running) return;
    running = run()
      .catch((error: unknown) => logger.warn({ err: error, periodic: name }, 'periodic run failed; will try again'))
      .finally(() => {
        running = null;
      });
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
