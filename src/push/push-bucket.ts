// One send rate for every worker process: a token bucket in Redis, refilled at the configured
// rate, taken from atomically by a script (Redis's clock, so processes' clocks never matter). A
// send that finds it empty reserves a token ahead and waits for its time, up to a second ahead.
// The provider saying "over quota" pauses the whole bucket (for its Retry-After) and halves the
// rate, which comes back to the configured one over a minute. A device over its own quota gets
// a pause of its own, which holds only sends to that device.
import { createHash } from 'node:crypto';
import type { RedisClient } from '../platform/redis.ts';

export interface PushPaceSettings {
  /** Sends per minute across all processes (below the provider's project quota). */
  maxPerMinute: number;
  /** The service's Redis key prefix. */
  prefix: string;
}

// The bucket's state: tokens, when last refilled, paused until, and the rate factor (1 =
// configured) with when it was last set. All times in ms of Redis's clock.
const STATE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'paused_until', 'factor', 'factor_at')
local perMs = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local tokens = tonumber(s[1]) or capacity
local at = tonumber(s[2]) or now
local pausedUntil = tonumber(s[3]) or 0
local factor = math.min(1, (tonumber(s[4]) or 1) + (now - (tonumber(s[5]) or now)) / 60000)
`;

// A pause in force returns its ms left: the device's own (KEYS[2]) first, then the bucket's.
const HELD = `
local device = redis.call('PTTL', KEYS[2])
if device > 0 then return device end
if now < pausedUntil then return pausedUntil - now end
`;

/**
 * Takes one token: 0 when granted now; -n when granted n ms ahead (the token is reserved: the
 * caller sends then, without asking again); n > 0 when not granted, the ms to wait before asking
 * again (a device's own pause, the bucket's pause, or more than ARGV[3] ms of sends reserved
 * already). Each waiting send used to ask again after every token's time (2.4 ms at 25,000 a
 * minute): 40 sends waiting at 20 a second made 781 calls to Redis, 19.5 a send; reserving makes
 * it at most 3. In a campaign's push at 15,000 a minute the workers' CPU per send fell from 2.56
 * to 2.22 ms, and the machine's busy share from 92 to 84 % (bench/README.md).
 */
const TAKE = `${STATE}${HELD}
local rate = perMs * factor
local ahead = tonumber(ARGV[3]) * rate
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local answer
if tokens >= 1 then
  tokens = tokens - 1
  answer = 0
elseif tokens - 1 >= -ahead then
  tokens = tokens - 1
  answer = -math.max(1, math.ceil(-tokens / rate))
else
  -- A second's sends are in line already: asking again before half of them went out is no use.
  answer = math.max(math.ceil((tokens - 1 + ahead) / -rate), math.floor(tonumber(ARGV[3]) / 2))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(math.max(now, at)), 'factor', tostring(factor), 'factor_at', tostring(now))
redis.call('PEXPIRE', KEYS[1], 120000)
return answer`;

/** A reserved send, when its time comes: 0 to send, else the ms of a pause set meanwhile (the bucket's or its device's). */
const PAUSED = `${STATE}${HELD}
return 0`;

/**
 * Pauses the bucket for ARGV[3] ms, emptied; halves the rate unless already paused (the many
 * sends in flight when the quota ran out each report it: one slowdown, not one per send).
 */
const SLOW_DOWN = `${STATE}
local untilMs = now + tonumber(ARGV[3])
if now >= pausedUntil then factor = math.max(0.05, factor / 2) end
if untilMs > pausedUntil then pausedUntil = untilMs end
redis.call('HSET', KEYS[1], 'tokens', '0', 'at', tostring(pausedUntil), 'paused_until', tostring(pausedUntil),
           'factor', tostring(factor), 'factor_at', tostring(now))
redis.call('PEXPIRE', KEYS[1], 120000 + tonumber(ARGV[3]))
return 0`;

const FILL = `${STATE}
local rate = perMs * factor
return {tostring(math.max(0, math.min(capacity, tokens + math.max(0, now - at) * rate)) / capacity), tostring(factor)}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How far ahead tokens are reserved for waiting sends: a second of the rate; sends beyond it ask again. */
const RESERVE_AHEAD_MS = 1_000;

/** How late a granted send may reach the provider (a stalled process) and still be counted within the rate. */
const ARRIVAL_SLACK_MS = 250;

export class PushBucket {
  private readonly key: string;
  private readonly perMs: number;
  /** At most a tenth of a second's sends at once. */
  private readonly capacity: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly settings: PushPaceSettings,
  ) {
    // One hash tag for the bucket and the device keys: the script's keys share a slot on a cluster.
    this.key = `${settings.prefix}:{push-pace}:bucket`;
    this.capacity = Math.max(1, Math.ceil(settings.maxPerMinute / 600));
    // Any minute holds at most a full bucket plus a minute's refill: the refill leaves the
    // bucket's capacity out, so that no minute, a burst's included, goes over the configured rate
    // (refilled at the rate itself, the campaign bench's busiest minute was 25,040 at 25,000).
    // And the provider counts arrivals, not grants: sends granted just before a minute reach it
    // inside it when their process stalls between the grant and the send, so the refill spreads a
    // minute's sends over a minute and ARRIVAL_SLACK_MS (with the capacity alone, the busiest
    // minute was 25,031 at 25,000 in one of seven runs).
    this.perMs = Math.max((settings.maxPerMinute - this.capacity) / (60_000 + ARRIVAL_SLACK_MS), settings.maxPerMinute / 2 / 60_000);
  }

  private deviceKey(token: string): string {
    return `${this.settings.prefix}:{push-pace}:device:${createHash('sha256').update(token).digest('hex').slice(0, 32)}`;
  }

  private args() {
    return [String(this.perMs), String(this.capacity)];
  }

  /** Waits until the shared rate (and the device's own pause) allows one send to `token`. */
  async acquire(token: string): Promise<void> {
    const device = this.deviceKey(token);
    for (;;) {
      const answer = Number(await this.redis.eval(TAKE, 2, this.key, device, ...this.args(), String(RESERVE_AHEAD_MS)));
      if (answer === 0) return;
      if (answer < 0) {
        // Reserved: sent at its time, unless the provider's quota paused the bucket meanwhile
        // (then the pause's end, and a place in the line again).
        await sleep(-answer);
        const paused = Number(await this.redis.eval(PAUSED, 2, this.key, device, ...this.args()));
        if (paused <= 0) return;
        await sleep(Math.min(paused, 1_000) + Math.random() * 5);
        continue;
      }
      // A little jitter: the processes that waited do not all come back at the same instant.
      await sleep(Math.min(answer, 1_000) + Math.random() * 5);
    }
  }

  /** The provider's project quota ran out: every process pauses for `pauseMs`, then sends slower. */
  async slowDown(pauseMs: number): Promise<void> {
    await this.redis.eval(SLOW_DOWN, 1, this.key, ...this.args(), String(pauseMs));
  }

  /** One device is over its own quota: only sends to it wait `pauseMs`. */
  async pauseDevice(token: string, pauseMs: number): Promise<void> {
    await this.redis.set(this.deviceKey(token), '1', 'PX', Math.max(1, Math.round(pauseMs)));
  }

  /** The bucket's fill (0..1) and the rate factor (1 = the configured rate), for metrics. */
  async state(): Promise<{ fill: number; rateFactor: number }> {
    const [fill, factor] = (await this.redis.eval(FILL, 1, this.key, ...this.args())) as [string, string];
    return { fill: Number(fill), rateFactor: Number(factor) };
  }
}
