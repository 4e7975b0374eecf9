// How many live subscriptions each user holds, across every API process, so that one user
// cannot hold more than a fixed number of streams open: each subscription holds a lease
// (`UserLeases`: renewed on a heartbeat; when a process dies its leases expire and the user's
// slots come back), and a lease is refused once the user holds the maximum.
import type { RedisClient } from '../platform/redis.ts';
import { UserLeases } from './user-leases.ts';

export interface SubscriptionQuotaOptions {
  /** Key prefix of the service. */
  prefix: string;
  /** Live subscriptions a user may hold across all API processes. */
  maxPerUser: number;
  /** How long a slot stays taken without a heartbeat (after a process died). */
  ttlMs: number;
  /** The keys are laid out for a Redis Cluster (hash-tagged groups). */
  cluster?: boolean;
  /** Told when Redis cannot answer: the subscription is let through. */
  onError?: (error: unknown) => void;
}

/** A slot held by one subscription; `release` gives it back (once). */
export interface SubscriptionSlot {
  release(): Promise<void>;
}

export class SubscriptionQuota {
  private readonly leases: UserLeases;

  constructor(
    redis: RedisClient,
    private readonly options: SubscriptionQuotaOptions,
  ) {
    const { prefix, ttlMs, cluster, onError } = options;
    this.leases = new UserLeases(redis, { prefix, kind: 'subscriptions', ttlMs, cluster, onError });
  }

  /** A slot for one more subscription of the user, or null when they hold the maximum. */
  async acquire(userId: string): Promise<SubscriptionSlot | null> {
    let lease: string | null = null;
    try {
      lease = await this.leases.take(userId, this.options.maxPerUser);
      if (lease === null) return null;
    } catch (error) {
      // Without Redis there is no count to keep; the stream itself will report Redis' state.
      this.options.onError?.(error);
    }
    return {
      release: async () => {
        if (lease) await this.leases.release(lease);
      },
    };
  }

  /** The user's slots taken, in every API process. */
  held(userId: string): Promise<number> {
    return this.leases.count(userId);
  }

  /** Gives back every slot of this process. */
  async close(): Promise<void> {
    await this.leases.close();
  }
}
