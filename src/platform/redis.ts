// Redis connections, each set up for its role (see BullMQ's "going to production" guide).
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.ts';

type Role = 'producer' | 'worker' | 'subscriber' | 'publisher';

const roleOptions: Record<Role, RedisOptions> = {
  // Enqueueing must fail fast when Redis is down: the accepted deployment is already in
  // Postgres and the reconciler enqueues it later; a request must not hang on an offline queue.
  producer: { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
  // BullMQ workers block on Redis and must retry forever.
  worker: { maxRetriesPerRequest: null },
  // ioredis 5 can lose a SUBSCRIBE sent while the connection is still being set up (CLIENT
  // SETINFO in flight; ioredis#2037). Skipping client info avoids that window.
  subscriber: { maxRetriesPerRequest: null, disableClientInfo: true },
  publisher: { maxRetriesPerRequest: 2 },
};

/** Where a process's Redis is, and where its connection errors are logged. */
export interface RedisSettings {
  url: string;
  logger: Logger;
}

export function createRedis(role: Role, { url, logger }: RedisSettings): Redis {
  const redis = new Redis(url, { ...roleOptions[role], connectionName: `credit-${role}` });
  redis.on('error', (error) => logger.warn({ err: error, role }, 'redis connection error'));
  return redis;
}

/** Closes a connection, whether or not Redis is still reachable. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}

/**
 * The server's maxmemory-policy, or null when it cannot be read (Redis down, CONFIG disabled as
 * on some managed services). BullMQ needs `noeviction`: an evicted job key is a lost job.
 */
export async function evictionPolicy(redis: Redis): Promise<string | null> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    return reply[1] ?? null;
  } catch {
    return null;
  }
}
