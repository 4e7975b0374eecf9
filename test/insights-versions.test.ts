// The example consumer reads both versions of credit.limit.changed: a stream published before
// version 2 (version 1 events), followed by version 2 ones (a decrease, a temporary end), gives
// one history row per change with its reason, and the summary of the latest.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { eventSchemaErrors } from '../src/domain/event-schema.ts';
import { startInsightsConsumer } from '../src/events/insights-consumer.ts';
import { createRedis } from '../src/platform/redis.ts';
import { testConfig as config, testRedis } from './support/settings.ts';
import { newUserId } from './support/client.ts';
import { waitUntil } from './support/wait.ts';

const v1 = (userId: string, sequence: number, previous: string | null, limit: string, reason: 'OFFER_ACCEPTED' | 'USAGE_SYNC') => ({
  id: randomUUID(),
  type: 'credit.limit.changed',
  version: 1,
  occurredAt: new Date(Date.UTC(2026, 10, sequence)).toISOString(),
  userId,
  sequence,
  correlationId: `c-${sequence}`,
  data: {
    reason, currency: 'BRL', previousLimitCents: previous, newLimitCents: limit, availableCents: limit, usedCents: '0', interestRateBps: 250,
    offerId: reason === 'OFFER_ACCEPTED' ? randomUUID() : null, deploymentId: reason === 'OFFER_ACCEPTED' ? randomUUID() : null,
  },
});

const v2 = (userId: string, sequence: number, previous: string, limit: string, reason: 'LIMIT_DECREASE' | 'TEMPORARY_LIMIT_ENDED') => {
  const changeId = randomUUID();
  const event = v1(userId, sequence, previous, limit, 'USAGE_SYNC');
  return {
    ...event,
    version: 2,
    data: {
      ...event.data, reason, changeType: reason === 'LIMIT_DECREASE' ? 'DECREASE' : 'TEMPORARY_END', historyId: changeId,
      effectiveAt: event.occurredAt, decreaseReason: reason === 'LIMIT_DECREASE' ? 'INACTIVITY' : null, limitChangeId: changeId, temporaryUntil: null,
    },
  };
};

describe('the insights consumer', () => {
  it('replays a version 1 stream, then version 2 events, into one history', { timeout: 30_000 }, async () => {
    const userId = newUserId('versions');
    const key = `${config.REDIS_PREFIX}:versions-${randomUUID()}`;
    const events = [
      v1(userId, 1, null, '100000', 'OFFER_ACCEPTED'),
      v1(userId, 2, '100000', '300000', 'OFFER_ACCEPTED'),
      v1(userId, 3, '300000', '300000', 'USAGE_SYNC'),
      v2(userId, 4, '300000', '200000', 'LIMIT_DECREASE'),
      v2(userId, 5, '200000', '150000', 'TEMPORARY_LIMIT_ENDED'),
    ];
    for (const event of events) expect(eventSchemaErrors(event)).toBeNull();
    const redis = createRedis('worker', testRedis);
    for (const event of events) {
      await redis.xadd(key, '*', 'type', event.type, 'userId', userId, 'sequence', String(event.sequence), 'event', JSON.stringify(event));
    }
    const consumer = startInsightsConsumer(redis, { key, group: 'insights', consumer: 'versions', batch: 10, blockMs: 100, claimIdleMs: 1_000 }, testRedis.logger);
    try {
      const history = await waitUntil(async () => {
        const rows = await prisma.creditHistoryEntry.findMany({ where: { userId }, orderBy: { sequence: 'asc' } });
        return rows.length === 5 && rows;
      }, 'five history rows');
      expect(history.map((h) => [h.sequence, h.reason, h.previousLimitCents, h.newLimitCents])).toEqual([
        [1, 'OFFER_ACCEPTED', null, 100_000n],
        [2, 'OFFER_ACCEPTED', 100_000n, 300_000n],
        [3, 'USAGE_SYNC', 300_000n, 300_000n],
        [4, 'LIMIT_DECREASE', 300_000n, 200_000n],
        [5, 'TEMPORARY_LIMIT_ENDED', 200_000n, 150_000n],
      ]);
      const summary = await prisma.creditInsight.findUniqueOrThrow({ where: { userId } });
      expect(summary).toMatchObject({ lastSequence: 5, limitCents: 150_000n });
      // The last increase is the second acceptance's, not a decrease's.
      expect(summary.lastIncreaseAt?.toISOString()).toBe(events[1]!.occurredAt);
    } finally {
      await consumer.stop();
      await redis.quit();
    }
  });
});
