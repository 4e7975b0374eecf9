// The Redis Stream of downstream events (docs/events.md): one entry per event, fields
// `type`, `userId`, `sequence` (for routing without parsing) and `event` (the envelope's JSON).
import type { RedisClient } from '../platform/redis.ts';
import type { OutboxRow } from '../domain/outbox.ts';
import type { EventPublisher } from './outbox-publishing.ts';

export interface EventStreamSettings {
  /** The stream's key. */
  key: string;
  /** Entries the stream keeps, about (`XADD ... MAXLEN ~`): older ones are trimmed. */
  maxLength: number;
}

/** The stream's key for a service's Redis prefix. */
export const eventStreamKey = (prefix: string) => `${prefix}:events`;

/** Publishes rows with one MULTI: all of them, in order, or none. */
export function eventStreamPublisher(redis: RedisClient, { key, maxLength }: EventStreamSettings): EventPublisher {
  return {
    async publish(rows: OutboxRow[]) {
      const multi = redis.multi();
      for (const row of rows) {
        multi.xadd(key, 'MAXLEN', '~', maxLength, '*', 'type', row.type, 'userId', row.userId, 'sequence', String(row.sequence), 'event', row.payload);
      }
      const results = await multi.exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw failed?.[0] ?? new Error('the stream transaction was discarded');
    },
  };
}

/**
 * Trims the stream's entries added before `before` (their ids are the Redis server's milliseconds
 * at XADD): exactly, not `~`, so what the period leaves is what the period says. Returns how many.
 */
export function eventStreamTrimmer(redis: RedisClient, key: string) {
  return (before: Date): Promise<number> => redis.xtrim(key, 'MINID', String(before.getTime()));
}
