import { Redis } from 'ioredis';
import { loadConfig } from '../src/platform/config.ts';

const config = loadConfig();

/** Deletes every key under the run's prefix (queues, presence): the run leaves nothing behind. */
export async function removeRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 1000 })) {
      if ((keys as string[]).length > 0) await redis.unlink(...(keys as string[]));
    }
  } finally {
    redis.disconnect();
  }
}
