// Leases that the open subscriptions of each user hold, across every API process: what presence
// (does the user have a live notifications stream?) and the subscription slots (how many streams
// does the user hold?) both count.
//
// One sorted set per user and kind: a member per open subscription, scored with the time it
// expires. The API process holding the subscription renews its leases on a heartbeat; a process
// that crashes stops renewing, and its leases count as gone once their expiry passes. Expiry
// times come from Redis' own clock (TIME), so the clocks of the API hosts do not matter.
//
// One script may only touch keys of one hash slot on a Redis Cluster: there the users' sets are
// spread over a fixed number of hash-tagged groups, `{<prefix>:<kind>:<g>}:<userId>`, and a
// heartbeat runs one script per group (at most LEASE_GROUPS round trips, however many users),
// each on the master of its slot. On a single Redis the keys stay `<prefix>:<kind>:<userId>`
// and a heartbeat is one script.
import { createHash, randomUUID } from 'node:crypto';
import type { RedisClient } from '../platform/redis.ts';

const NOW_MS = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS[1]: a user's set; ARGV: ttl ms, member, max (0: no maximum). 1 when the lease was taken. */
const TAKE = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local max = tonumber(ARGV[3])
if max > 0 and redis.call('ZCARD', KEYS[1]) >= max then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1`;

/** KEYS: users' sets (repeated for a user with several leases); ARGV[1]: ttl ms; ARGV[i + 1]: the lease in KEYS[i]. */
const RENEW = `${NOW_MS}
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  redis.call('PEXPIRE', key, ttl)
end
return #KEYS`;

/** KEYS[1]: a user's set. Leases not yet expired. */
const COUNT_LIVE = `${NOW_MS}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')`;

/** Hash-tagged groups of the users' sets on a Redis Cluster: enough to spread over the masters. */
export const LEASE_GROUPS = 16;

export interface UserLeasesOptions {
  /** Prefix of the keys (the service's Redis prefix). */
  prefix: string;
  /** What the leases are for; names the keys (`presence`, `subscriptions`). */
  kind: string;
  /** How long a lease lasts without a heartbeat. */
  ttlMs: number;
  /** The keys are laid out for a Redis Cluster (hash-tagged groups). */
  cluster?: boolean;
  /** Told when a heartbeat or a release fails (the leases then expire by themselves). */
  onError?: (error: unknown, during: 'heartbeat' | 'release') => void;
}

export class UserLeases {
  private readonly leases = new Map<string, string>(); // lease -> key, this process' leases
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<unknown> | null = null;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: UserLeasesOptions,
  ) {}

  private key(userId: string): string {
    const { prefix, kind, cluster } = this.options;
    if (!cluster) return `${prefix}:${kind}:${userId}`;
    const group = createHash('sha1').update(userId).digest().readUInt16BE(0) % LEASE_GROUPS;
    return `{${prefix}:${kind}:${group}}:${userId}`;
  }

  /** The part of a key that picks its hash slot: keys with the same one may share a script. */
  private slotOf(key: string): string {
    return this.options.cluster ? key.slice(0, key.indexOf('}') + 1) : '';
  }

  /** A lease for the user, renewed until `release`; null when they hold `max` already (0: no maximum). Throws when Redis does not answer. */
  async take(userId: string, max = 0): Promise<string | null> {
    const lease = randomUUID();
    const key = this.key(userId);
    if (Number(await this.redis.eval(TAKE, 1, key, this.options.ttlMs, lease, max)) !== 1) return null;
    this.leases.set(lease, key);
    this.startHeartbeat();
    return lease;
  }

  /** Ends a lease of this process (once; an unknown lease is ignored). */
  async release(lease: string): Promise<void> {
    const key = this.leases.get(lease);
    if (!key) return;
    this.leases.delete(lease);
    if (this.leases.size === 0) this.stopHeartbeat();
    try {
      // A heartbeat in flight may still carry this lease: let it land first, or it would put
      // the lease back after its removal (counted until the TTL, though gone).
      await this.renewing;
      await this.redis.zrem(key, lease);
    } catch (error) {
      this.options.onError?.(error, 'release');
    }
  }

  /** The user's live leases, in every API process. */
  async count(userId: string): Promise<number> {
    return Number(await this.redis.eval(COUNT_LIVE, 1, this.key(userId)));
  }

  /** Renews every lease of this process: one script per hash slot group. */
  async renew(): Promise<void> {
    if (this.leases.size === 0) return;
    const groups = new Map<string, { keys: string[]; leases: string[] }>();
    for (const [lease, key] of this.leases) {
      const group = groups.get(this.slotOf(key)) ?? { keys: [], leases: [] };
      group.keys.push(key);
      group.leases.push(lease);
      groups.set(this.slotOf(key), group);
    }
    const renewing = Promise.all(
      [...groups.values()].map(({ keys, leases }) => this.redis.eval(RENEW, keys.length, ...keys, this.options.ttlMs, ...leases)),
    );
    this.renewing = renewing.catch(() => {});
    await renewing;
  }

  private startHeartbeat() {
    if (this.timer) return;
    // Three heartbeats per TTL: one lost to a Redis hiccup does not end a lease.
    this.timer = setInterval(() => {
      this.renew().catch((error: unknown) => this.options.onError?.(error, 'heartbeat'));
    }, Math.max(100, Math.floor(this.options.ttlMs / 3)));
    this.timer.unref();
  }

  private stopHeartbeat() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Ends every lease of this process (they are ending with it) and stops the heartbeat. */
  async close(): Promise<void> {
    this.stopHeartbeat();
    await Promise.all([...this.leases.keys()].map((lease) => this.release(lease)));
  }
}
