// Who has a live `notifications` subscription, across every API process: a user is present
// while one of their subscriptions holds a lease (`UserLeases`: renewed on a heartbeat, gone
// after its TTL when the process holding it dies).
import type { RedisClient } from '../platform/redis.ts';
import type { PresenceCheck } from '../domain/ports.ts';
import type { Logger } from '../platform/logger.ts';
import { UserLeases } from './user-leases.ts';

export interface PresenceOptions {
  /** Prefix of the keys (the service's Redis prefix). */
  prefix: string;
  /** How long a subscription counts as live without a heartbeat. */
  ttlMs: number;
  /** The keys are laid out for a Redis Cluster (hash-tagged groups). */
  cluster?: boolean;
  logger?: Logger;
}

export class Presence implements PresenceCheck {
  private readonly leases: UserLeases;

  constructor(redis: RedisClient, options: PresenceOptions) {
    const { prefix, ttlMs, cluster, logger } = options;
    this.leases = new UserLeases(redis, {
      prefix,
      kind: 'presence',
      ttlMs,
      cluster,
      // The entry expires by itself.
      onError: (error, during) => logger?.warn({ err: error }, `presence ${during} failed`),
    });
  }

  /** Marks a live subscription of the user; returns its handle for `leave`. */
  async enter(userId: string): Promise<string> {
    return (await this.leases.take(userId))!; // no maximum: always a lease
  }

  async leave(member: string): Promise<void> {
    await this.leases.release(member);
  }

  /** Whether the user has a live subscription in any API process. */
  async isPresent(userId: string): Promise<boolean> {
    return (await this.leases.count(userId)) > 0;
  }

  /** Removes this process' subscriptions (they are ending with it) and stops the heartbeat. */
  async close(): Promise<void> {
    await this.leases.close();
  }
}
