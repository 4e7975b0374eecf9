import { Redis } from 'ioredis';
import { loadConfig } from '../src/platform/config.ts';

/**
 * Deletes every key under the prefix (queues, presence, buckets): a bench run or a test file
 * leaves nothing behind. `url`: the Redis it ran against (the configured one by default).
 */
export async function removeRedisKeys(prefix: string, url = loadConfig().REDIS_URL): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  // A Redis that cannot be reached fails the call; its connection errors are not reported twice.
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 1000 })) {
      if ((keys as string[]).length > 0) await redis.unlink(...(keys as string[]));
    }
  } finally {
    redis.disconnect();
  }
}
