// Each push is decided once and sent at most once, however many deciders read its notification
// before deciding: in a campaign, a batch's first step reads a thousand notifications and decides
// them after, while the notification's own job (enqueued by the reconciler, or a job run twice
// after a stall) decides the same ones from a read of its own. Here they decide from the same
// read at the same time, against the real Postgres, Redis and firebase-admin (to a fake FCM).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { progressNotifications, type DeliveryDeps } from '../src/domain/notification-delivery.ts';
import { issueCreditOffers } from '../src/domain/offer-batches.ts';
import { claimPushes } from '../src/domain/push-claims.ts';
import { isDomainError } from '../src/domain/errors.ts';
import { prisma, type Notification } from '../src/platform/db.ts';
import { createLogger } from '../src/platform/logger.ts';
import { closeRedis, createRedis } from '../src/platform/redis.ts';
import { createPushSender } from '../src/push/push-sender.ts';
import { Presence } from '../src/realtime/presence.ts';
import { createNotificationBatcher } from '../src/jobs/notification-batcher.ts';
import { metricsRegistry } from '../src/platform/metrics.ts';
import { FakeFcm } from './support/fake-fcm.ts';
import { presenceOptions, testRedis } from './support/settings.ts';

const fcm = new FakeFcm();
const presenceConnection = createRedis('publisher', testRedis);
beforeAll(() => fcm.start());
afterAll(async () => {
  await fcm.close();
  await closeRedis(presenceConnection);
});

const SIZE = 60;
const logger = createLogger('silent');
const deps = (): DeliveryDeps => ({
  presence: new Presence(presenceConnection, presenceOptions()),
  push: createPushSender(fcm.messaging()),
  fallbackMs: 1_000,
  pushClaimMs: 2_000,
  preferences: { offersPushDefault: true, releaseSpreadMs: 1_000 },
  logger,
});

const hhmm = (at: number) => new Date(at).toISOString().slice(11, 16);

/**
 * SIZE absent users with a device each, in quiet hours (UTC, an hour either side of now) or not,
 * issued an offer each in one batch: their OFFER_RECEIVED as the batch committed them.
 */
async function campaign(quiet: boolean): Promise<{ run: string; received: Notification[] }> {
  const run = `decide-${randomUUID()}`;
  await prisma.$executeRaw`INSERT INTO users (id) SELECT ${run} || '-' || k FROM generate_series(1, ${SIZE}) k`;
  await prisma.$executeRaw`
    INSERT INTO devices (id, user_id, token, platform)
    SELECT gen_random_uuid(), ${run} || '-' || k, ${run} || '-device-' || k, 'ANDROID' FROM generate_series(1, ${SIZE}) k`;
  const [start, end] = [hhmm(Date.now() - 3_600_000), hhmm(Date.now() + 3_600_000)];
  await prisma.$executeRaw`
    INSERT INTO notification_preferences (user_id, time_zone, quiet_hours_enabled, quiet_hours_start, quiet_hours_end)
    SELECT ${run} || '-' || k, 'UTC', ${quiet}, ${start}, ${end} FROM generate_series(1, ${SIZE}) k`;
  const expiresAt = new Date(Date.now() + 86_400_000);
  const inputs = Array.from({ length: SIZE }, (_, k) => ({ userId: `${run}-${k + 1}`, limitCents: 250_000, interestRateBps: 130, expiresAt }));
  const issued = await issueCreditOffers(inputs);
  if (isDomainError(issued)) throw issued;
  expect(issued.received).toHaveLength(SIZE);
  return { run, received: issued.received };
}

/** Each notification's push deliveries, as the app lists them (oldest first). */
async function pushDeliveries(notifications: Notification[]): Promise<string[][]> {
  const rows = await prisma.notificationDelivery.findMany({
    where: { notificationId: { in: notifications.map((n) => n.id) }, channel: 'PUSH' },
    orderBy: [{ at: 'asc' }, { id: 'asc' }],
  });
  return notifications.map((n) => rows.filter((d) => d.notificationId === n.id).map((d) => d.status));
}

const sendsTo = (run: string) => fcm.requests.filter((r) => String(r.body?.message?.token).startsWith(`${run}-device-`));

describe('deciders that read the same notifications', () => {
  it('hold each quiet-hours push once: one DEFERRED, whether the batch or the job decides it', async () => {
    const { received } = await campaign(true);
    // The batch's first step and the notifications' own jobs, from the same read.
    const [batch, jobs] = await Promise.all([
      progressNotifications(deps(), received),
      progressNotifications(deps(), received, { sendPushes: true }),
    ]);
    expect(await pushDeliveries(received)).toEqual(received.map(() => ['DEFERRED']));
    // Each one's hold answered by exactly one of them; the other gave no answer (its job looks again).
    for (const n of received) expect([batch.steps.get(n.id)?.kind, jobs.steps.get(n.id)?.kind].filter(Boolean)).toEqual(['wait']);
    const held = await prisma.notification.findMany({ where: { id: { in: received.map((n) => n.id) } } });
    expect(held.every((n) => n.status === 'PENDING' && n.pushDueAt! > new Date())).toBe(true);
  });

  it('send each push once: two jobs and a batch deciding the same pushes at once send one to each device', async () => {
    const { run, received } = await campaign(false);
    await Promise.all([
      progressNotifications(deps(), received, { sendPushes: true }),
      progressNotifications(deps(), received, { sendPushes: true }),
      progressNotifications(deps(), received),
    ]);
    const sends = sendsTo(run);
    expect(new Set(sends.map((r) => r.body.message.token)).size).toBe(SIZE);
    expect(sends).toHaveLength(SIZE);
    expect(await pushDeliveries(received)).toEqual(received.map(() => ['SENT']));
  });

  it('a claim whose holder died lapses: the job that takes over sends the push, once', async () => {
    const { run, received } = await campaign(false);
    const [n] = received;
    // A worker claimed it and died before sending: nobody keeps its lease.
    const claim = await claimPushes([n!.id], new Date(), 1_000, logger);
    expect([...claim.held]).toEqual([n!.id]);
    claim.stop();
    const during = await progressNotifications(deps(), [n!], { sendPushes: true });
    expect(during.steps.get(n!.id)).toBeUndefined();
    expect(sendsTo(run)).toEqual([]);
    // Read again (as the job does), it waits for the lease; once it lapsed, the push goes.
    const [again] = await prisma.notification.findMany({ where: { id: n!.id } });
    const wait = (await progressNotifications(deps(), [again!], { sendPushes: true })).steps.get(n!.id);
    expect(wait).toMatchObject({ kind: 'wait' });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, (wait as { until: Date }).until.getTime() - Date.now() + 10)));
    const [lapsed] = await prisma.notification.findMany({ where: { id: n!.id } });
    expect((await progressNotifications(deps(), [lapsed!], { sendPushes: true })).steps.get(n!.id)).toEqual({ kind: 'done', outcome: 'pushed' });
    expect(sendsTo(run)).toHaveLength(1);
    expect(await pushDeliveries([n!])).toEqual([['SENT']]);
  });
});

describe('the notification jobs a worker runs at once', () => {
  it('take their steps together: each push sent once, each job answered with its own step, in fewer batches than jobs', async () => {
    const { run, received } = await campaign(false);
    const batcher = createNotificationBatcher(deps(), { maxBatch: 16, maxInFlight: 2 });
    const before = await batchCount();
    // As a worker's jobs hand them over: all at once, one of them twice (a job run again after a stall, while the first runs).
    const jobs = [received[0]!, ...received];
    const answers = await Promise.all(jobs.map((n) => batcher.progress(n.id, { finalAttempt: false })));
    expect(answers.map((a) => a.step)).toEqual(jobs.map(() => ({ kind: 'done', outcome: 'pushed' })));
    expect(sendsTo(run)).toHaveLength(SIZE);
    expect(new Set(sendsTo(run).map((r) => r.body.message.token)).size).toBe(SIZE);
    expect(await pushDeliveries(received)).toEqual(received.map(() => ['SENT']));
    const batches = (await batchCount()) - before;
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThanOrEqual(Math.ceil((SIZE + 1) / 16) + 2);
    // A job whose notification is gone is answered so, not failed.
    expect((await batcher.progress(randomUUID(), { finalAttempt: true })).step).toEqual({ kind: 'done', outcome: 'missing' });
  });
});

/** Batches the notification batchers of this process have run. */
async function batchCount(): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric('credit_notification_batch_size')!.get();
  return (metric.values as { metricName?: string; value: number }[]).find((v) => v.metricName === 'credit_notification_batch_size_count')?.value ?? 0;
}
