// The insights consumer and the outbox's safety nets: a consumer killed mid-batch loses nothing
// and applies nothing twice once another takes its entries over; a Redis that lost everything
// gets the events back from `npm run events:replay`; retention and lag of the outbox.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { relayLagMs, type OutboxRow } from '../src/domain/outbox.ts';
import { dropSentOutboxPartitions } from '../src/domain/outbox-partitions.ts';
import { relayUnsentEvents } from '../src/events/outbox-publishing.ts';
import { syncCreditUsage } from '../src/domain/profiles.ts';
import { eraseUserData } from '../src/domain/erasure.ts';
import { NotFoundError } from '../src/domain/errors.ts';
import { eventSchemaErrors } from '../src/domain/event-schema.ts';
import { startInsightsConsumer } from '../src/events/insights-consumer.ts';
import { startOutboxRelay } from '../src/events/outbox-relay.ts';
import { eventStreamKey, eventStreamPublisher } from '../src/events/stream-publisher.ts';
import { createRedis, type RedisClient } from '../src/platform/redis.ts';
import { testConfig as config, testRedis } from './support/settings.ts';
import { outboxDrained, readStream } from './support/events.ts';
import { userWithProfile } from './support/users.ts';
import { killHard, spawnService } from './support/processes.ts';
import { startRedisServer } from './support/redis-server.ts';
import { waitUntil } from './support/wait.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const key = eventStreamKey(config.REDIS_PREFIX);

/** A relay of the test's own, publishing to `redis`. */
function relayTo(redis: RedisClient, streamKey = key) {
  return startOutboxRelay(
    eventStreamPublisher(redis, { key: streamKey, maxLength: 100_000 }),
    { intervalMs: 10, housekeepingMs: 60_000 },
    testRedis.logger,
  );
}

/** `count` usage syncs of each user, each changing what is available: one event each. */
async function changes(users: string[], count: number) {
  for (let i = 1; i <= count; i += 1) await Promise.all(users.map((userId) => syncCreditUsage(userId, i * 100)));
}

/** The history as the consumer recorded it: user -> sequences, in order. */
async function historyOf(users: string[]) {
  const rows = await prisma.creditHistoryEntry.findMany({ where: { userId: { in: users } }, orderBy: [{ userId: 'asc' }, { sequence: 'asc' }] });
  return Object.fromEntries(users.map((u) => [u, rows.filter((r) => r.userId === u).map((r) => r.sequence)]));
}

/** Whether the group has read the stream to its end and acknowledged everything. */
async function consumedAll(redis: RedisClient, streamKey: string): Promise<boolean> {
  const [group] = (await redis.xinfo('GROUPS', streamKey)) as string[][];
  const info = Object.fromEntries(Array.from({ length: group!.length / 2 }, (_, i) => [group![2 * i], group![2 * i + 1]]));
  const [last] = await redis.xrevrange(streamKey, '+', '-', 'COUNT', 1);
  return Number(info.pending) === 0 && info['last-delivered-id'] === last?.[0];
}

const oneToTen = Array.from({ length: 10 }, (_, i) => i + 1);

describe('a consumer killed mid-batch', () => {
  it('after another consumer takes its entries over, the history has every change exactly once', { timeout: 180_000 }, async () => {
    // Named so that the stream holds a's events, then b's, then c's.
    const users = await Promise.all(['a', 'b', 'c'].map((p) => userWithProfile('seeded', { userId: `${p}-${Date.now()}` }).then((u) => u.userId)));
    const [a, b] = users as [string, string, string];
    const redis = createRedis('publisher', testRedis);
    const relay = relayTo(redis);
    await changes(users, 10);
    await outboxDrained();
    await relay.stop();

    // b's first transaction waits on this uncommitted row: the first consumer applies a's events, then hangs on b's.
    const blocker = new pg.Client({ connectionString: config.DATABASE_URL });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('INSERT INTO insights_users (user_id) VALUES ($1)', [b]);

    const consumerEnv = { INSIGHTS_BATCH: '100', INSIGHTS_CLAIM_IDLE_MS: '500' };
    const first = spawnService('insights', { ...consumerEnv, INSIGHTS_CONSUMER_NAME: 'first' });
    let second: ReturnType<typeof startInsightsConsumer> | null = null;
    const consumerRedis = createRedis('worker', testRedis);
    try {
      // A process took 75 s to start on the shared 2-core machine under load (3 s when idle): a generous wait.
      await waitUntil(async () => (await historyOf([a]))[a]!.length === 10, "a's events applied by the first consumer", 120_000);
      const pending = (await redis.xpending(key, 'insights')) as [number, ...unknown[]];
      expect(pending[0]).toBe(30); // read, none acknowledged: the batch is not finished
      await killHard(first);
      await blocker.query('ROLLBACK');

      // The second consumer runs in the test process (one process start less), as `start:insights` runs it.
      second = startInsightsConsumer(consumerRedis, { key, group: 'insights', consumer: 'second', batch: 100, blockMs: 100, claimIdleMs: 500 }, testRedis.logger);
      await waitUntil(async () => Object.values(await historyOf(users)).every((s) => s.length >= 10), 'every change in the history');
      await waitUntil(() => consumedAll(redis, key), 'every entry read and acknowledged');
      expect(await historyOf(users)).toEqual(Object.fromEntries(users.map((u) => [u, oneToTen])));
      const insights = await prisma.creditInsight.findMany({ where: { userId: { in: users } } });
      expect(insights.map((i) => [i.lastSequence, i.availableCents])).toEqual(users.map(() => [10, 1_000_000n - 1_000n]));
    } finally {
      await killHard(first);
      await blocker.end().catch(() => {});
      await second?.stop();
      await consumerRedis.quit();
      await redis.quit();
    }
  });
});

describe('Redis flushed after 50 events', () => {
  it('events:replay publishes them again and the history is whole, each change once', { timeout: 90_000 }, async () => {
    const server = await startRedisServer();
    const redis = new Redis(server.url, { maxRetriesPerRequest: null });
    redis.on('error', () => {});
    const consumerSettings = { key, group: 'insights', batch: 20, blockMs: 100, claimIdleMs: 1_000 };
    const users = await Promise.all(Array.from({ length: 5 }, (_, i) => userWithProfile('seeded', { userId: `flush-${i}-${Date.now()}` }).then((u) => u.userId)));
    try {
      const relay = relayTo(redis);
      // Two users' events are consumed before the loss; three users' are published, never consumed.
      let consumer = startInsightsConsumer(redis, { ...consumerSettings, consumer: 'before' }, testRedis.logger);
      await changes(users.slice(0, 2), 10);
      await waitUntil(async () => Object.values(await historyOf(users.slice(0, 2))).every((s) => s.length === 10), 'the first 20 changes');
      await consumer.stop();
      await changes(users.slice(2), 10);
      await outboxDrained();
      await relay.stop();
      expect(await readStream(redis)).toHaveLength(50);

      await server.flushAll();
      consumer = startInsightsConsumer(redis, { ...consumerSettings, consumer: 'after' }, testRedis.logger);
      const replay = await runReplay(['--from-sequence', '1'], server.url);
      expect(replay.code, replay.output).toBe(0);
      // Every event of the file's database goes out again (this test's 50, and the earlier test's).
      expect(replay.output).toMatch(new RegExp(`^${await prisma.outboxEvent.count()} events published again`, 'm'));

      await waitUntil(async () => Object.values(await historyOf(users)).every((s) => s.length === 10), 'the whole history');
      await waitUntil(() => consumedAll(redis, key), 'every entry read and acknowledged');
      await consumer.stop();
      expect(await historyOf(users)).toEqual(Object.fromEntries(users.map((u) => [u, oneToTen])));
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});

describe('a relay that dies between XADD and marking the rows sent', () => {
  it('leaves them unsent: they go out again, and the consumer applies each change once', async () => {
    const streamKey = `${key}:dying-relay-${Date.now()}`;
    const redis = createRedis('publisher', testRedis);
    const consumerRedis = createRedis('worker', testRedis);
    const { userId } = await userWithProfile('seeded', { userId: `dying-${Date.now()}` });
    const publisher = eventStreamPublisher(redis, { key: streamKey, maxLength: 100_000 });
    const consumer = startInsightsConsumer(
      consumerRedis,
      { key: streamKey, group: 'insights', consumer: 'only', batch: 10, blockMs: 50, claimIdleMs: 60_000 },
      testRedis.logger,
    );
    try {
      await changes([userId], 3);
      // The relay's process dies after XADD, before its commit: the transaction rolls back.
      const dying = {
        async publish(rows: OutboxRow[]) {
          await publisher.publish(rows);
          throw new Error('killed');
        },
      };
      await expect(relayUnsentEvents(dying, { users: 10, events: 100 })).rejects.toThrow('killed');
      expect(await prisma.outboxEvent.count({ where: { userId, sentAt: null } })).toBe(3);
      expect(await relayUnsentEvents(publisher, { users: 10, events: 100 })).toBe(3);

      const published = (await readStream(redis, streamKey)).map((e) => e.event.sequence);
      expect(published).toEqual([1, 2, 3, 1, 2, 3]);
      await waitUntil(() => consumedAll(redis, streamKey), 'all six entries read and acknowledged');
      expect(await historyOf([userId])).toEqual({ [userId]: [1, 2, 3] });
    } finally {
      await consumer.stop();
      await redis.del(streamKey);
      await Promise.all([redis.quit(), consumerRedis.quit()]);
    }
  });
});

describe('the consumer and what it does not understand', () => {
  it('moves past an event of a type added later; leaves an event that breaks the schema pending, and the user waits', async () => {
    const streamKey = `${key}:unknown-${Date.now()}`;
    const redis = createRedis('publisher', testRedis);
    const [newer, broken] = [`newer-${Date.now()}`, `broken-${Date.now()}`];
    const change = (userId: string, sequence: number) => ({
      id: crypto.randomUUID(),
      type: 'credit.limit.changed',
      version: 1,
      occurredAt: new Date().toISOString(),
      userId,
      sequence,
      correlationId: 'test',
      data: {
        reason: 'USAGE_SYNC', currency: 'BRL', previousLimitCents: '1000', newLimitCents: '1000', availableCents: '900', usedCents: '100',
        interestRateBps: 250, offerId: null, deploymentId: null,
      },
    });
    const entries = [
      { ...change(newer, 1), type: 'credit.card.issued', data: { cardId: 'c-1' } },
      change(newer, 2),
      { ...change(broken, 1), data: { ...change(broken, 1).data, creditScore: 700 } },
      change(broken, 2),
    ];
    for (const event of entries) await redis.xadd(streamKey, '*', 'event', JSON.stringify(event));
    const consumer = startInsightsConsumer(
      redis,
      { key: streamKey, group: 'insights', consumer: 'only', batch: 10, blockMs: 50, claimIdleMs: 60_000 },
      testRedis.logger,
    );
    try {
      await waitUntil(async () => (await historyOf([newer]))[newer]!.length === 1, 'the known event after the unknown one');
      await waitUntil(async () => ((await redis.xpending(streamKey, 'insights')) as [number])[0] === 2, 'the broken user entries pending');
      expect(await historyOf([newer, broken])).toEqual({ [newer]: [2], [broken]: [] });
    } finally {
      await consumer.stop();
      await redis.del(streamKey);
      await redis.quit();
    }
  });
});

describe('the outbox', () => {
  it('keeps sent events for the retention period and unsent ones always; its lag is the age of the oldest unsent one', async () => {
    const { userId } = await userWithProfile('seeded');
    const day = 86_400_000;
    const now = Date.now();
    const row = (sequence: number, ageDays: number, sent: boolean) => ({
      id: crypto.randomUUID(),
      userId,
      sequence,
      type: 'credit.limit.changed',
      occurredAt: new Date(now - ageDays * day),
      sentAt: sent ? new Date(now - ageDays * day) : null,
      payload: {},
    });
    await prisma.outboxEvent.createMany({ data: [row(1, 8, true), row(2, 6, true), row(3, 9, false)] });
    await dropSentOutboxPartitions(new Date(now - 7 * day));
    const left = await prisma.outboxEvent.findMany({ where: { userId }, orderBy: { sequence: 'asc' } });
    expect(left.map((r) => r.sequence)).toEqual([2, 3]);
    expect(await relayLagMs(new Date(now))).toBe(9 * day);
    await prisma.outboxEvent.deleteMany({ where: { userId } });
    expect(await relayLagMs()).toBe(0);
  });
});

function runReplay(args: string[], redisUrl: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/events-replay.ts', ...args], {
      cwd: root,
      env: { ...process.env, REDIS_URL: redisUrl },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('a data subject erased (npm run erase-user)', () => {
  it("tells the consumers: the insights consumer erases the user's history and summary, then applies the user's later events", async () => {
    const streamKey = `${key}:erased-${Date.now()}`;
    const redis = createRedis('publisher', testRedis);
    const erased = (await userWithProfile('seeded', { userId: `erased-${Date.now()}` })).userId;
    const other = (await userWithProfile('seeded', { userId: `kept-${Date.now()}` })).userId;
    const relay = relayTo(redis, streamKey);
    const consumer = startInsightsConsumer(
      redis,
      { key: streamKey, group: 'insights', consumer: 'only', batch: 20, blockMs: 50, claimIdleMs: 60_000 },
      testRedis.logger,
    );
    try {
      await changes([erased, other], 3);
      await waitUntil(async () => Object.values(await historyOf([erased, other])).every((s) => s.length === 3), 'the first changes');

      const erasure = await eraseUserData(erased);
      if (erasure instanceof NotFoundError) throw new Error(erasure.message);
      expect(erasure.erasureEventSequence).toBe(4);
      await syncCreditUsage(erased, 5_000); // a change after the erasure: the user's credit line still exists
      await outboxDrained(erased);

      await waitUntil(async () => (await historyOf([erased]))[erased]!.join() === '5', 'the history after the erasure');
      expect(await historyOf([erased, other])).toEqual({ [erased]: [5], [other]: [1, 2, 3] });
      const summary = await prisma.creditInsight.findUniqueOrThrow({ where: { userId: erased } });
      expect(summary.lastSequence).toBe(5);
      expect(summary.availableCents).not.toBeNull(); // from the change after the erasure
      const published = (await readStream(redis, streamKey)).filter((e) => e.event.userId === erased).map((e) => e.event);
      const told = published.find((e) => e.type === 'user.erased');
      expect(told).toMatchObject({ sequence: 4, version: 1, data: {} });
      expect(eventSchemaErrors(told)).toBeNull();
    } finally {
      await consumer.stop();
      await relay.stop();
      await redis.del(streamKey);
      await redis.quit();
    }
  });
});
