// How many live subscriptions each user holds, across every API process, so that one user
// cannot hold more than a fixed number of streams open.
//
// As for presence: one sorted set per user, a member per open subscription scored with the
// time it expires (Redis' clock). The process holding the subscriptions refreshes them on a
// heartbeat; when a process dies its members expire and the user's slots come back.
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../platform/redis.ts';

const NOW_MS = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS[1]: the user's set; ARGV: ttl ms, member, max. 1 when the member got a slot. */
const ACQUIRE = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1`;

/** KEYS: one set per member; ARGV[1]: ttl ms, ARGV[2..]: the members (put back if a late heartbeat let one lapse). */
const REFRESH = `${NOW_MS}
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[i + 1])
  redis.call('PEXPIRE', key, ttl)
end
return #KEYS`;

export interface SubscriptionQuotaOptions {
  /** Key prefix of the service. */
  prefix: string;
  /** Live subscriptions a user may hold across all API processes. */
  maxPerUser: number;
  /** How long a slot stays taken without a heartbeat (after a process died). */
  ttlMs: number;
  /** Told when Redis cannot answer: the subscription is let through. */
  onError?: (error: unknown) => void;
}

/** A slot held by one subscription; `release` gives it back (once). */
export interface SubscriptionSlot {
  release(): Promise<void>;
}

export class SubscriptionQuota {
  private readonly members = new Map<string, string>(); // member -> key, this process' slots
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<unknown> | null = null;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: SubscriptionQuotaOptions,
  ) {}

  private key(userId: string): string {
    return `${this.options.prefix}:subscriptions:${userId}`;
  }

  /** A slot for one more subscription of the user, or null when they hold the maximum. */
  async acquire(userId: string): Promise<SubscriptionSlot | null> {
    const member = randomUUID();
    const key = this.key(userId);
    try {
      const granted = await this.redis.eval(ACQUIRE, 1, key, this.options.ttlMs, member, this.options.maxPerUser);
      if (Number(granted) !== 1) return null;
      this.members.set(member, key);
      this.startHeartbeat();
    } catch (error) {
      // Without Redis there is no count to keep; the stream itself will report Redis' state.
      this.options.onError?.(error);
    }
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        if (!this.members.delete(member)) return;
        if (this.members.size === 0) this.stopHeartbeat();
        // A heartbeat in flight may still carry this member: let it land, or it would put it back.
        await this.refreshing;
        await this.redis.zrem(key, member).catch((error: unknown) => this.options.onError?.(error));
      },
    };
  }

  private async refresh(): Promise<void> {
    const entries = [...this.members];
    if (entries.length === 0) return;
    const refreshing = this.redis.eval(REFRESH, entries.length, ...entries.map(([, key]) => key), this.options.ttlMs, ...entries.map(([m]) => m));
    this.refreshing = refreshing.catch(() => {});
    await refreshing;
  }

  private startHeartbeat() {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.refresh().catch((error: unknown) => this.options.onError?.(error));
    }, Math.max(100, Math.floor(this.options.ttlMs / 3)));
    this.timer.unref();
  }

  private stopHeartbeat() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Gives back every slot of this process. */
  async close(): Promise<void> {
    this.stopHeartbeat();
    const entries = [...this.members];
    this.members.clear();
    await Promise.all(entries.map(([member, key]) => this.redis.zrem(key, member).catch(() => {})));
  }
}
