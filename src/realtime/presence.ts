// Who has a live `notifications` subscription, across every API process.
//
// One sorted set per user: a member per open subscription, scored with the time it expires.
// The API process that holds the subscription refreshes it on a heartbeat; a process that
// crashes stops refreshing, and its members count as gone once their expiry passes. Expiry times
// come from Redis' own clock (TIME), so the clocks of the API hosts do not matter.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { PresenceCheck } from '../domain/ports.ts';
import type { Logger } from '../platform/logger.ts';

const NOW_MS = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: the users' sets; ARGV[1]: ttl ms; ARGV[2..]: a member of each. Refreshes and prunes. */
const REFRESH = `${NOW_MS}
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  redis.call('PEXPIRE', key, ttl)
end
return #KEYS`;

/** KEYS[1]: a user's set. Members not yet expired. */
const COUNT_LIVE = `${NOW_MS}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')`;

export interface PresenceOptions {
  /** Prefix of the keys (the service's Redis prefix). */
  prefix: string;
  /** How long a subscription counts as live without a heartbeat. */
  ttlMs: number;
  logger?: Logger;
}

export class Presence implements PresenceCheck {
  private readonly ttlMs: number;
  private readonly members = new Map<string, string>(); // member -> userId, this process' subscriptions
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<unknown> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly options: PresenceOptions,
  ) {
    this.ttlMs = options.ttlMs;
  }

  private key(userId: string): string {
    return `${this.options.prefix}:presence:${userId}`;
  }

  /** Marks a live subscription of the user; returns its handle for `leave`. */
  async enter(userId: string): Promise<string> {
    const member = randomUUID();
    await this.redis.eval(REFRESH, 1, this.key(userId), this.ttlMs, member);
    this.members.set(member, userId);
    this.startHeartbeat();
    return member;
  }

  async leave(member: string): Promise<void> {
    const userId = this.members.get(member);
    if (!userId) return;
    this.members.delete(member);
    if (this.members.size === 0) this.stopHeartbeat();
    try {
      // A heartbeat in flight may still carry this member: let it land first, or it would put
      // the member back after its removal (present until the TTL, though gone).
      await this.refreshing;
      await this.redis.zrem(this.key(userId), member);
    } catch (error) {
      // The member expires by itself.
      this.options.logger?.warn({ err: error, userId }, 'could not remove a presence entry');
    }
  }

  /** Whether the user has a live subscription in any API process. */
  async isPresent(userId: string): Promise<boolean> {
    return Number(await this.redis.eval(COUNT_LIVE, 1, this.key(userId))) > 0;
  }

  /** Refreshes every subscription of this process. */
  async refresh(): Promise<void> {
    if (this.members.size === 0) return;
    const entries = [...this.members];
    const keys = entries.map(([, userId]) => this.key(userId));
    const refreshing = this.redis.eval(REFRESH, entries.length, ...keys, this.ttlMs, ...entries.map(([member]) => member));
    this.refreshing = refreshing.catch(() => {});
    await refreshing;
  }

  private startHeartbeat() {
    if (this.timer) return;
    // Three heartbeats per TTL: one lost to a Redis hiccup does not make anyone absent.
    this.timer = setInterval(() => {
      this.refresh().catch((error: unknown) => this.options.logger?.warn({ err: error }, 'presence heartbeat failed'));
    }, Math.max(100, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  private stopHeartbeat() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Removes this process' subscriptions (they are ending with it) and stops the heartbeat. */
  async close(): Promise<void> {
    this.stopHeartbeat();
    await Promise.all([...this.members.keys()].map((member) => this.leave(member)));
  }
}
