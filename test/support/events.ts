// The events stream and the outbox as a downstream system sees them, from the test's own connections.
import type { RedisClient as Redis } from '../../src/platform/redis.ts';
import { prisma } from '../../src/platform/db.ts';
import type { CreditEvent } from '../../src/domain/downstream-events.ts';
import { eventStreamKey } from '../../src/events/stream-publisher.ts';
import { createRedis } from '../../src/platform/redis.ts';
import { testConfig as config, testRedis } from './settings.ts';
import { waitUntil } from './wait.ts';

export interface StreamEvent {
  entryId: string;
  fields: Record<string, string>;
  event: CreditEvent;
}

/** Every entry of the stream, oldest first. */
export async function readStream(redis: Redis, key = eventStreamKey(config.REDIS_PREFIX)): Promise<StreamEvent[]> {
  const entries = await redis.xrange(key, '-', '+');
  return entries.map(([entryId, list]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i < list.length; i += 2) fields[list[i]!] = list[i + 1]!;
    return { entryId, fields, event: JSON.parse(fields.event!) as CreditEvent };
  });
}

/** Resolves when none of the user's events waits in the outbox (the relay has published them all). */
export const outboxDrained = (userId?: string, timeoutMs?: number) =>
  waitUntil(async () => (await prisma.outboxEvent.count({ where: { sentAt: null, ...(userId ? { userId } : {}) } })) === 0, 'the outbox to drain', timeoutMs);

export function streamProbe(key = eventStreamKey(config.REDIS_PREFIX)) {
  const redis = createRedis('publisher', testRedis);
  const eventsOf = async (userId: string) => (await readStream(redis, key)).filter((e) => e.event.userId === userId);
  return {
    redis,
    key,
    eventsOf,
    /** The user's events once the outbox has none of theirs left unsent and at least `count` are on the stream. */
    async settledEventsOf(userId: string, count = 1, timeoutMs?: number) {
      await waitUntil(async () => (await eventsOf(userId)).length >= count, `${count} events of ${userId} on the stream`, timeoutMs);
      await outboxDrained(userId, timeoutMs);
      return eventsOf(userId);
    },
    close: () => redis.quit(),
  };
}
