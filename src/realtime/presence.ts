// Who has a live `notifications` subscription, across every API process.
//
// One sorted set per user: a member per open subscription, scored with the time it expires.
// The API process that holds the subscription refreshes it on a heartbeat; a process that
// crashes stops refreshing, and its members count as gone once their expiry passes. Expiry times
// come from Redis' own clock (TIME), so the clocks of the API hosts do not matter.
//
// On a Redis Cluster, one script may only touch keys of one hash slot: the users' sets are then
// spread over a fixed number of hash-tagged groups, and a heartbeat runs one script per group
// (at most PRESENCE_GROUPS round trips, however many users), each on the master of its slot.
import { createHash, randomUUID } from 'node:crypto';
import type { RedisClient } from '../platform/redis.ts';
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
  /** The keys are laid out for a Redis Cluster (hash-tagged groups). */
  cluster?: boolean;
  logger?: Logger;
}

/** Hash-tagged groups of the users' sets on a Redis Cluster: enough to spread over the masters. */
export const PRESENCE_GROUPS = 16;

export class Presence implements PresenceCheck {
  private readonly ttlMs: number;
  private readonly members = new Map<string, string>(); // member -> userId, this process' subscriptions
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<unknown> | null = null;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: PresenceOptions,
  ) {
    this.ttlMs = options.ttlMs;
  }

  private key(userId: string): string {
    if (!this.options.cluster) return `${this.options.prefix}:presence:${userId}`;
    const group = createHash('sha1').update(userId).digest().readUInt16BE(0) % PRESENCE_GROUPS;
    return `{${this.options.prefix}:presence:${group}}:${userId}`;
  }

  /** The part of a key that picks its hash slot: keys with the same one may share a script. */
  private slotOf(key: string): string {
    return this.options.cluster ? key.slice(0, key.indexOf('}') + 1) : '';
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
    const groups = new Map<string, { keys: string[]; members: string[] }>();
    for (const [member, userId] of this.members) {
      const key = this.key(userId);
      const group = groups.get(this.slotOf(key)) ?? { keys: [], members: [] };
      group.keys.push(key);
      group.members.push(member);
      groups.set(this.slotOf(key), group);
    }
    const refreshing = Promise.all(
      [...groups.values()].map(({ keys, members }) => this.redis.eval(REFRESH, keys.length, ...keys, this.ttlMs, ...members)),
    );
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
