// Retention (docs/data-retention.md): the job the workers run drops the outbox's day partitions
// whose events were all sent before EVENTS_RETENTION_DAYS (never a day holding an unsent one),
// creates days ahead, deletes ordinary notifications past NOTIFICATION_RETENTION_DAYS with their
// deliveries, and leaves the audit trails until the regulatory period (which compliance sets)
// ends. The outbox's per-user sequence stays unique and gapless across a partition boundary, and
// reading a user's events (replay, the relay) crosses the boundary in sequence order.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { outboxWrite } from '../src/domain/downstream-events.ts';
import { claimUnsentEvents, claimUserEvents } from '../src/domain/outbox.ts';
import { createOutboxPartitions } from '../src/domain/outbox-partitions.ts';
import { deleteUnacceptedOffersBefore } from '../src/domain/retention.ts';
import { createRetentionJob, type RetentionSettings } from '../src/jobs/retention.ts';
import { startOutboxRelay } from '../src/events/outbox-relay.ts';
import { eventStreamPublisher, eventStreamTrimmer } from '../src/events/stream-publisher.ts';
import { prisma, Prisma, type CreditOfferStatus } from '../src/platform/db.ts';
import { createLogger } from '../src/platform/logger.ts';
import { createRedis } from '../src/platform/redis.ts';
import { newUserId } from './support/client.ts';
import { outboxDrained, readStream } from './support/events.ts';
import { testConfig, testRedis } from './support/settings.ts';
import { userWithProfile } from './support/users.ts';
import { waitUntil } from './support/wait.ts';
import { dedupeKey } from '../src/domain/notifications.ts';

const DAY = 86_400_000;
const logger = createLogger('silent');
const settings: RetentionSettings = {
  intervalMs: 60_000,
  eventsRetentionDays: 7,
  notificationRetentionDays: 180,
  regulatoryRetentionDays: null,
  partitionDaysAhead: 7,
};
const utcDay = (at: Date) => new Date(Math.floor(at.getTime() / DAY) * DAY);
const partitionOf = (at: Date) => `outbox_events_p${utcDay(at).toISOString().slice(0, 10).replaceAll('-', '')}`;

async function exists(table: string): Promise<boolean> {
  const [row] = await prisma.$queryRaw<{ present: boolean }[]>`SELECT to_regclass(${table}) IS NOT NULL AS present`;
  return row!.present;
}

async function addEvent(userId: string, sequence: number, occurredAt: Date, sentAt: Date | null) {
  await prisma.outboxEvent.create({ data: { id: randomUUID(), userId, sequence, type: 'credit.limit.changed', occurredAt, sentAt, payload: {} } });
}

/** A deployment's audit trail (offer, deployment, two events, consent) and its CREDIT_DEPLOYED notification with a delivery, `ageDays` old. */
async function trail(userId: string, ageDays: number) {
  const at = new Date(Date.now() - ageDays * DAY);
  const offer = await prisma.creditOffer.create({
    data: { userId, limitCents: 500_000n, interestRateBps: 250, currency: 'BRL', status: 'DEPLOYED', expiresAt: at, createdAt: at, acceptedAt: at },
  });
  const deployment = await prisma.creditDeployment.create({
    data: {
      offerId: offer.id, userId, status: 'DEPLOYED', currency: 'BRL', newLimitCents: 500_000n, correlationId: randomUUID(),
      lastSequence: 2, queuedAt: at, startedAt: at, completedAt: at,
      events: { create: [1, 2].map((sequence) => ({ sequence, type: 'x', status: 'DEPLOYED' as const, at, correlationId: 'c' })) },
    },
  });
  await prisma.acceptanceConsent.create({
    data: { offerId: offer.id, userId, acceptedAt: at, terms: {}, termsHash: 'a'.repeat(64), correlationId: 'c', ipAddress: '203.0.113.1' },
  });
  const notification = await prisma.notification.create({
    data: {
      userId, kind: 'CREDIT_DEPLOYED', title: 't', body: 'b', deepLink: 'l', dedupeKey: dedupeKey('CREDIT_DEPLOYED', deployment.id),
      deploymentId: deployment.id, correlationId: 'c', createdAt: at, deliveries: { create: { channel: 'IN_APP', status: 'SENT', at } },
    },
  });
  return { offerId: offer.id, deploymentId: deployment.id, notificationId: notification.id };
}

async function notification(userId: string, ageDays: number) {
  const at = new Date(Date.now() - ageDays * DAY);
  const created = await prisma.notification.create({
    data: {
      userId, kind: 'OFFER_EXPIRED', title: 't', body: 'b', deepLink: 'l', dedupeKey: randomUUID(), correlationId: 'c',
      createdAt: at, deliveries: { create: { channel: 'IN_APP', status: 'SENT', at } },
    },
  });
  return created.id;
}

const trailRows = async ({ offerId, deploymentId }: { offerId: string; deploymentId: string }) => ({
  offers: await prisma.creditOffer.count({ where: { id: offerId } }),
  deployments: await prisma.creditDeployment.count({ where: { id: deploymentId } }),
  events: await prisma.deploymentEvent.count({ where: { deploymentId } }),
  consents: await prisma.acceptanceConsent.count({ where: { offerId } }),
});

describe('the retention job', () => {
  it('drops the partitions of days sent before the period, keeps a day with an unsent event and the recent ones, creates days ahead', async () => {
    const { userId } = await userWithProfile('seeded');
    const now = new Date();
    const at = (days: number) => new Date(now.getTime() - days * DAY);
    await createOutboxPartitions(at(20), 2); // days the migration did not make (it made today's onwards)
    await addEvent(userId, 1, at(20), at(20));
    await addEvent(userId, 2, at(19), at(19));
    await addEvent(userId, 3, at(18), null);
    await addEvent(userId, 4, at(1), at(1));
    expect(await exists(partitionOf(at(20)))).toBe(true);

    const run = await createRetentionJob({ logger, settings })(now);

    expect(run.partitionsDropped).toEqual(expect.arrayContaining([partitionOf(at(20)), partitionOf(at(19))]));
    expect(await exists(partitionOf(at(20)))).toBe(false);
    expect(await exists(partitionOf(at(19)))).toBe(false);
    expect(run.partitionsDropped).not.toContain(partitionOf(at(18)));
    expect(run.eventsDeleted).toBe(0); // nothing went through the default partition
    const left = await prisma.outboxEvent.findMany({ where: { userId }, orderBy: { sequence: 'asc' } });
    expect(left.map((e) => e.sequence)).toEqual([3, 4]);
    for (let i = 0; i <= settings.partitionDaysAhead; i++) expect(await exists(partitionOf(new Date(now.getTime() + i * DAY)))).toBe(true);
  });

  it('trims the events stream to EVENTS_RETENTION_DAYS: what the outbox no longer keeps leaves Redis too', async () => {
    const redis = createRedis('publisher', testRedis);
    const key = `${testConfig.REDIS_PREFIX}:events-retention-${Date.now()}`;
    try {
      const now = Date.now();
      // Entry ids are the milliseconds of their XADD: these were added 9, 8 and 6 days ago, and now.
      const ages = [9, 8, 6, 0];
      for (const [i, days] of ages.entries()) await redis.xadd(key, `${now - days * DAY}-${i}`, 'event', `{"age":${days}}`);

      const run = await createRetentionJob({ logger, settings, trimEventStream: eventStreamTrimmer(redis, key) })(new Date(now));

      expect(run.streamEntriesTrimmed).toBe(2);
      const left = await redis.xrange(key, '-', '+');
      expect(left.map(([, fields]) => fields[1])).toEqual(['{"age":6}', '{"age":0}']);
    } finally {
      await redis.del(key);
      await redis.quit();
    }
  });

  it('moves events that landed in the default partition into their day when it is created, losing none', async () => {
    const { userId } = await userWithProfile('seeded');
    const later = new Date(Date.now() + 40 * DAY);
    await addEvent(userId, 1, later, null);
    await addEvent(userId, 2, new Date(later.getTime() + 1), null);
    const where = await prisma.$queryRaw<{ part: string }[]>`SELECT tableoid::regclass::text AS part FROM outbox_events WHERE user_id = ${userId}`;
    expect(where.map((r) => r.part)).toEqual(['outbox_events_default', 'outbox_events_default']);

    expect(await createOutboxPartitions(later, 0)).toEqual([partitionOf(later)]);

    const moved = await prisma.$queryRaw<{ part: string; sequence: number }[]>`
      SELECT tableoid::regclass::text AS part, sequence FROM outbox_events WHERE user_id = ${userId} ORDER BY sequence`;
    expect(moved).toEqual([{ part: partitionOf(later), sequence: 1 }, { part: partitionOf(later), sequence: 2 }]);
  });

  it('deletes ordinary notifications past NOTIFICATION_RETENTION_DAYS with their deliveries, and keeps audit trails while the regulatory period is unset', async () => {
    const { userId } = await userWithProfile('seeded');
    const old = await notification(userId, 200);
    const recent = await notification(userId, 100);
    const auditTrail = await trail(userId, 400);

    const run = await createRetentionJob({ logger, settings })();

    expect(run.notificationsDeleted).toBeGreaterThanOrEqual(2);
    const left = await prisma.notification.findMany({ where: { userId }, select: { id: true } });
    expect(left.map((n) => n.id)).toEqual([recent]);
    expect(await prisma.notificationDelivery.count({ where: { notificationId: { in: [old, auditTrail.notificationId] } } })).toBe(0);
    expect(await trailRows(auditTrail)).toEqual({ offers: 1, deployments: 1, events: 2, consents: 1 });
    expect(run.deploymentTrailsDeleted).toBe(0);
  });

  it('deletes offers never accepted NOTIFICATION_RETENTION_DAYS after their expiry, unless a kept record names one', async () => {
    const { userId } = await userWithProfile('seeded');
    const offer = async (status: CreditOfferStatus, expiredDaysAgo: number) => {
      const expiresAt = new Date(Date.now() - expiredDaysAgo * DAY);
      const created = await prisma.creditOffer.create({
        data: { userId, limitCents: 300_000n, interestRateBps: 250, currency: 'BRL', status, expiresAt, createdAt: new Date(expiresAt.getTime() - 30 * DAY) },
      });
      return created.id;
    };
    const gone = await Promise.all((['EXPIRED', 'DECLINED', 'SUPERSEDED', 'WITHDRAWN'] as const).map((status) => offer(status, 181)));
    const recent = await offer('EXPIRED', 179);
    // Still PENDING on paper past its expiry (the sweep has not come yet): the sweep's, not retention's.
    const pending = await offer('PENDING', 200);
    // Named by a notification that stays (younger than its period): the offer waits for it.
    const named = await offer('EXPIRED', 200);
    await prisma.notification.create({
      data: { userId, kind: 'OFFER_EXPIRED', title: 't', body: 'b', deepLink: 'l', dedupeKey: randomUUID(), correlationId: 'c', offerId: named },
    });
    const accepted = await trail(userId, 400);

    const run = await createRetentionJob({ logger, settings })();

    expect(run.offersDeleted).toBeGreaterThanOrEqual(gone.length);
    const left = await prisma.creditOffer.findMany({ where: { userId }, select: { id: true } });
    expect(new Set(left.map((o) => o.id))).toEqual(new Set([recent, pending, named, accepted.offerId]));
    expect(await trailRows(accepted)).toEqual({ offers: 1, deployments: 1, events: 2, consents: 1 });

    // Once its notification is past its own period, the offer goes at the next run.
    await prisma.notification.updateMany({ where: { offerId: named }, data: { createdAt: new Date(Date.now() - 181 * DAY) } });
    const next = await createRetentionJob({ logger, settings })();
    expect(next.notificationsDeleted).toBeGreaterThanOrEqual(1);
    expect(await prisma.creditOffer.count({ where: { id: named } })).toBe(0);
  });

  it('steps over the offers a notification keeps, batch after batch, to the ones after them', async () => {
    const { userId } = await userWithProfile('seeded');
    // Seven expiries a microsecond apart, in one millisecond: each batch must start after the last, to the microsecond.
    await prisma.$executeRaw`
      INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, status, expires_at, created_at)
      SELECT gen_random_uuid(), ${userId}, 100000, 250, 'BRL', 'EXPIRED',
             date_trunc('milliseconds', now() AT TIME ZONE 'UTC') - interval '200 days' + i * interval '1 microsecond',
             (now() AT TIME ZONE 'UTC') - interval '230 days'
        FROM generate_series(1, 7) i`;
    const offers = await prisma.$queryRaw<{ id: string }[]>`
      SELECT id::text FROM credit_offers WHERE user_id = ${userId} ORDER BY expires_at, id`;
    const kept = offers.slice(0, 5).map((o) => o.id);
    for (const offerId of kept) {
      await prisma.notification.create({
        data: { userId, kind: 'OFFER_EXPIRED', title: 't', body: 'b', deepLink: 'l', dedupeKey: randomUUID(), correlationId: 'c', offerId },
      });
    }

    // Batches of two: the first two hold only kept offers; the walk goes on past them.
    const deleted = await deleteUnacceptedOffersBefore(new Date(Date.now() - 180 * DAY), 2);

    expect(deleted).toBeGreaterThanOrEqual(2);
    const left = await prisma.creditOffer.findMany({ where: { userId }, select: { id: true } });
    expect(new Set(left.map((o) => o.id))).toEqual(new Set(kept));
  });

  it('deletes limit-change trails and the history of credit lines past the regulatory period, and keeps the rest', async () => {
    const { userId } = await userWithProfile('seeded');
    const period = 3 * 365;
    const ago = (days: number) => new Date(Date.now() - days * DAY);
    const change = async (status: 'APPLIED' | 'CANCELLED' | 'SCHEDULED', ageDays: number) => {
      const at = ago(ageDays);
      const created = await prisma.limitChange.create({
        data: {
          id: randomUUID(), userId, type: 'DECREASE', status, currency: 'BRL', newLimitCents: 100_000n, decisionSequence: 1,
          effectiveAt: at, requestedBy: 'engine', correlationId: 'c', createdAt: at,
          ...(status === 'APPLIED' ? { appliedAt: at } : status === 'CANCELLED' ? { cancelledAt: at } : {}),
          events: { create: [{ type: 'SCHEDULED', at, actor: 'engine', correlationId: 'c' }] },
        },
      });
      return created.id;
    };
    const line = async (ageDays: number) => {
      const created = await prisma.creditLineChange.create({
        data: { id: randomUUID(), userId, at: ago(ageDays), reason: 'LIMIT_DECREASE', changeType: 'DECREASE', currency: 'BRL', newLimitCents: 100_000n, availableCents: 50_000n },
      });
      return created.id;
    };
    const [applied, cancelled] = [await change('APPLIED', period + 10), await change('CANCELLED', period + 10)];
    const [recent, scheduled] = [await change('APPLIED', period - 10), await change('SCHEDULED', period + 10)];
    const [oldLine, recentLine] = [await line(period + 10), await line(period - 10)];

    const unset = await createRetentionJob({ logger, settings })();
    expect(unset.limitChangeTrailsDeleted).toBe(0);
    expect(unset.creditLineChangesDeleted).toBe(0);
    expect(await prisma.limitChange.count({ where: { userId } })).toBe(4);

    const run = await createRetentionJob({ logger, settings: { ...settings, regulatoryRetentionDays: period } })();

    expect(run.limitChangeTrailsDeleted).toBeGreaterThanOrEqual(2);
    const changes = await prisma.limitChange.findMany({ where: { userId }, select: { id: true } });
    expect(new Set(changes.map((c) => c.id))).toEqual(new Set([recent, scheduled]));
    expect(await prisma.limitChangeEvent.count({ where: { changeId: { in: [applied, cancelled] } } })).toBe(0);
    expect(await prisma.limitChangeEvent.count({ where: { changeId: { in: [recent, scheduled] } } })).toBe(2);
    expect(run.creditLineChangesDeleted).toBeGreaterThanOrEqual(1);
    const lines = await prisma.creditLineChange.findMany({ where: { userId }, select: { id: true } });
    expect(lines.map((l) => l.id)).toContain(recentLine);
    expect(lines.map((l) => l.id)).not.toContain(oldLine);
  });

  it('deletes an audit trail once it is past the regulatory period, and keeps one still under it', async () => {
    const { userId } = await userWithProfile('seeded');
    const past = await trail(userId, 3 * 365 + 10);
    const under = await trail(userId, 3 * 365 - 10);

    const run = await createRetentionJob({ logger, settings: { ...settings, regulatoryRetentionDays: 3 * 365 } })();

    expect(run.deploymentTrailsDeleted).toBeGreaterThanOrEqual(1);
    expect(await trailRows(past)).toEqual({ offers: 0, deployments: 0, events: 0, consents: 0 });
    expect(await trailRows(under)).toEqual({ offers: 1, deployments: 1, events: 2, consents: 1 });
  });
});

describe('the outbox across a partition boundary', () => {
  it('keeps each user’s sequence unique and gapless when events land on both sides of midnight at once', async () => {
    const { userId } = await userWithProfile('seeded');
    const midnight = utcDay(new Date(Date.now() + DAY));
    const sides = [new Date(midnight.getTime() - 1), midnight];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        prisma.$executeRaw`WITH ${outboxWrite({
          type: 'credit.limit.changed',
          userId,
          correlationId: randomUUID(),
          occurredAt: sides[i % 2]!,
          data: Prisma.sql`'{}'::jsonb`,
        })} SELECT 1 FROM event_outbox`,
      ),
    );
    const rows = await prisma.$queryRaw<{ sequence: number; part: string }[]>`
      SELECT sequence, tableoid::regclass::text AS part FROM outbox_events WHERE user_id = ${userId} ORDER BY sequence`;
    expect(rows.map((r) => r.sequence)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.part))).toEqual(new Set(sides.map(partitionOf)));

    // The relay and the replay read the user's events across both partitions, in sequence order.
    const relayed = await prisma.$transaction((tx) => claimUnsentEvents(tx, { users: 1_000, events: 1_000 }));
    expect(relayed.filter((e) => e.userId === userId).map((e) => e.sequence)).toEqual(rows.map((r) => r.sequence));
    const replayed = await prisma.$transaction((tx) => claimUserEvents(tx, userId, { fromSequence: 5, userId }));
    expect(replayed.map((e) => e.sequence)).toEqual(rows.map((r) => r.sequence).filter((s) => s >= 5));
  });

  it('refuses a second event with the same user, sequence and time (the key that holds the partition column)', async () => {
    const userId = newUserId();
    await prisma.user.create({ data: { id: userId } });
    const at = new Date();
    await addEvent(userId, 1, at, null);
    await expect(addEvent(userId, 1, at, null)).rejects.toThrow(/Unique constraint/);
    expect(await prisma.outboxEvent.count({ where: { userId } })).toBe(1);
  });
});

describe("the relay's days", () => {
  it('publishes an event left unsent for days before the newer ones, then reads only the recent days (an old day locked does not hold it up)', async () => {
    const now = new Date();
    await createOutboxPartitions(new Date(now.getTime() - 30 * DAY), 30); // the last month's days, as a long retention keeps them
    const userId = newUserId();
    await prisma.user.create({ data: { id: userId } });
    await addEvent(userId, 1, new Date(now.getTime() - 5 * DAY), null); // left unsent while the relay was away
    await addEvent(userId, 2, now, null);
    const redis = createRedis('publisher', testRedis);
    const key = `${testConfig.REDIS_PREFIX}:relay-days-${randomUUID()}`;
    const published = async () => (await readStream(redis, key)).filter((e) => e.fields.userId === userId).map((e) => Number(e.fields.sequence));
    const startRelay = () => startOutboxRelay(eventStreamPublisher(redis, { key, maxLength: 10_000 }), { intervalMs: 5, housekeepingMs: 60_000 }, logger);
    try {
      let relay = startRelay();
      try {
        await waitUntil(async () => (await published()).length >= 2, 'the two events on the stream');
        expect(await published()).toEqual([1, 2]);
        await outboxDrained();
      } finally {
        await relay.stop();
      }
      // Nothing unsent: a relay started now reads from yesterday on. An event of today goes out
      // while the days before are locked (a claim that read them would wait for the lock).
      relay = startRelay();
      try {
        await addEvent(userId, 3, new Date(), null);
        await waitUntil(async () => (await published()).length >= 3, 'the third event on the stream');
        await prisma.$transaction(
          async (tx) => {
            for (const days of [5, 20]) await tx.$executeRawUnsafe(`LOCK TABLE "${partitionOf(new Date(now.getTime() - days * DAY))}" IN ACCESS EXCLUSIVE MODE`);
            await addEvent(userId, 4, new Date(), null);
            await waitUntil(async () => (await published()).length >= 4, 'the fourth event on the stream while older days are locked', 10_000);
          },
          { timeout: 20_000 },
        );
        expect(await published()).toEqual([1, 2, 3, 4]);
      } finally {
        await relay.stop();
      }
    } finally {
      await redis.del(key);
      await redis.quit();
    }
  });
});
