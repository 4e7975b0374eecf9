// Limit decreases as the credit engine and the user see them: the user told at once
// (LIMIT_DECREASE_SCHEDULED, deep link to the change), the decrease applied when its notice has
// run from the notice's delivery (a short test notice), the user told again, the history and the
// audit trail; an immediate one for risk; one below the credit in use (available 0, over limit);
// one cancelled before it applies; one that survives a worker restart and a Redis that lost
// everything; and one credit.limit.changed per change, valid against the published JSON Schema.
import { afterAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { loadConfig } from '../src/platform/config.ts';
import { eventSchemaErrors } from '../src/domain/event-schema.ts';
import { engineToken, gql } from './support/client.ts';
import { streamProbe } from './support/events.ts';
import { serviceForTests, startServiceInTest } from './support/service.ts';
import { startThrowawayRedis } from './support/throwaway-redis.ts';
import { userWithProfile } from './support/users.ts';
import { myNotifications } from './support/notification-fixtures.ts';
import { waitUntil } from './support/wait.ts';
import { dedupeKey } from '../src/domain/notifications.ts';

const NOTICE_MS = 2_500;
const config = { ...loadConfig(), LIMIT_DECREASE_NOTICE_DAYS: NOTICE_MS / 86_400_000, LIMIT_CHANGE_INTERVAL_MS: 150 };
const service = serviceForTests({ config });
const stream = streamProbe();

/** Waits (reading the database: the API's per-user rate limit is not for polling) for the user's notification of that kind. */
const notified = (userId: string, kind: string) =>
  waitUntil(() => prisma.notification.findFirst({ where: { userId, kind: kind as any } }), `a ${kind} notification`, 20_000);
afterAll(() => stream.close());

const CHANGE_FIELDS = 'id type status newLimit { cents formatted } previousLimit { cents } decreaseReason effectiveAt createdAt appliedAt cancelledAt';

const SCHEDULE = /* GraphQL */ `
  mutation Schedule($input: ScheduleLimitDecreaseInput!) {
    scheduleLimitDecrease(input: $input) {
      __typename
      ... on ScheduleLimitDecreaseSuccess { change { ${CHANGE_FIELDS} } }
      ... on ValidationError { message field }
      ... on NotFoundError { message }
    }
  }
`;

const CANCEL = /* GraphQL */ `
  mutation Cancel($id: ID!) {
    cancelLimitChange(id: $id) {
      __typename
      ... on CancelLimitChangeSuccess { change { ${CHANGE_FIELDS} } }
      ... on Error { message }
    }
  }
`;

const MINE = /* GraphQL */ `
  query {
    me {
      creditProfile { limit { cents } permanentLimit { cents } temporaryUntil available { cents } used { cents } overLimit version }
      scheduledLimitChanges { ${CHANGE_FIELDS} }
      creditHistory { id reason changeType previousLimit { cents } newLimit { cents } available { cents } }
    }
  }
`;

async function schedule(input: Record<string, unknown>, url = service.url) {
  const result = await gql(url, SCHEDULE, { input }, await engineToken());
  expect(result.errors).toBeUndefined();
  return result.data.scheduleLimitDecrease;
}

const mine = async (userToken: string, url = service.url) => (await gql(url, MINE, {}, userToken)).data.me;

async function appliedChange(id: string, timeoutMs = 20_000) {
  return waitUntil(async () => {
    const change = await prisma.limitChange.findUnique({ where: { id } });
    return change?.status === 'APPLIED' && change;
  }, `limit change ${id} applied`, timeoutMs);
}

describe('a decrease with the default notice', () => {
  it('tells the user at once, applies once the notice has run from its delivery, tells them again; history and trail', { timeout: 40_000 }, async () => {
    const user = await userWithProfile({ api: service.url }, { limitCents: 1_000_000 });
    const before = Date.now();
    const scheduled = await schedule({ userId: user.userId, newLimitCents: 600_000, reason: 'INACTIVITY' });
    expect(scheduled).toMatchObject({
      __typename: 'ScheduleLimitDecreaseSuccess',
      change: { type: 'DECREASE', status: 'SCHEDULED', newLimit: { cents: 600_000, formatted: 'R$ 6.000,00' }, previousLimit: null, decreaseReason: 'INACTIVITY', appliedAt: null },
    });
    const change = scheduled.change;
    const effectiveAt = new Date(change.effectiveAt).getTime();
    expect(effectiveAt).toBeGreaterThanOrEqual(before + NOTICE_MS);
    expect(effectiveAt).toBeLessThanOrEqual(Date.now() + NOTICE_MS);

    // Told in the transaction that scheduled it: the notice exists as soon as the answer does.
    const notices = (await myNotifications(service.url, user.userToken)).filter((n) => n.kind === 'LIMIT_DECREASE_SCHEDULED');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ deepLink: `app://credit/limit-changes/${change.id}` });
    expect(notices[0].body).toMatch(/R\$ 6\.000,00 em \d{2}\/\d{2}\/\d{4}/);
    const now = await mine(user.userToken);
    expect(now.creditProfile).toMatchObject({ limit: { cents: 1_000_000 }, overLimit: false });
    expect(now.scheduledLimitChanges.map((c: any) => c.id)).toEqual([change.id]);

    const applied = await appliedChange(change.id);
    // Not before the notice period ran from the notice's first delivery.
    expect(applied.noticeDeliveredAt).not.toBeNull();
    expect(applied.appliedAt!.getTime()).toBeGreaterThanOrEqual(applied.noticeDeliveredAt!.getTime() + NOTICE_MS);
    expect(applied.noticeProof).toMatchObject({ notificationId: notices[0].id, channel: expect.any(String), status: expect.any(String) });

    const after = await mine(user.userToken);
    expect(after.creditProfile).toMatchObject({ limit: { cents: 600_000 }, permanentLimit: { cents: 600_000 }, available: { cents: 600_000 }, overLimit: false, temporaryUntil: null });
    expect(after.scheduledLimitChanges).toEqual([]);
    expect(after.creditHistory[0]).toMatchObject({ id: change.id, reason: 'LIMIT_DECREASE', changeType: 'DECREASE', previousLimit: { cents: 1_000_000 }, newLimit: { cents: 600_000 } });
    expect(after.creditHistory.map((h: any) => h.changeType)).toEqual(['DECREASE', 'INCREASE']);
    const told = await notified(user.userId, 'LIMIT_DECREASED');
    expect(told.body).toContain('R$ 6.000,00');

    const trail = await prisma.limitChangeEvent.findMany({ where: { changeId: change.id }, orderBy: { id: 'asc' } });
    expect(trail.map((e) => [e.type, e.actor])).toEqual([['SCHEDULED', 'credit-engine-test'], ['APPLIED', 'service']]);
    expect(trail[0]!.detail).toMatchObject({ reason: 'INACTIVITY', previousLimitCents: '1000000', newLimitCents: '600000' });

    // One credit.limit.changed (version 2) for the change, and the schedule's own event, all valid.
    const events = await stream.settledEventsOf(user.userId, 3);
    for (const { event } of events) expect(eventSchemaErrors(event)).toBeNull();
    expect(events.map((e) => [e.event.type, e.event.version, (e.event.data as any).changeType])).toEqual([
      ['credit.limit.changed', 2, 'INCREASE'],
      ['credit.limit.change.scheduled', 1, 'DECREASE'],
      ['credit.limit.changed', 2, 'DECREASE'],
    ]);
    expect(events[2]!.event.data).toMatchObject({
      reason: 'LIMIT_DECREASE', previousLimitCents: '1000000', newLimitCents: '600000', availableCents: '600000',
      historyId: change.id, limitChangeId: change.id, decreaseReason: 'INACTIVITY',
    });
  });

  it('refuses a sooner date for a reason that needs the notice, a limit not below the current one, an unknown user: nothing changes', async () => {
    const user = await userWithProfile({ api: service.url }, { limitCents: 500_000 });
    const soon = new Date(Date.now() + 500).toISOString();
    expect(await schedule({ userId: user.userId, newLimitCents: 100_000, reason: 'PORTFOLIO_REVIEW', effectiveAt: soon })).toMatchObject({
      __typename: 'ValidationError', field: 'input.effectiveAt',
    });
    expect(await schedule({ userId: user.userId, newLimitCents: 500_000, reason: 'INACTIVITY' })).toMatchObject({ __typename: 'ValidationError', field: 'input.newLimitCents' });
    expect(await schedule({ userId: user.userId, newLimitCents: -1, reason: 'INACTIVITY' })).toMatchObject({ __typename: 'ValidationError', field: 'input.newLimitCents' });
    expect((await schedule({ userId: 'nobody-here', newLimitCents: 1, reason: 'INACTIVITY' })).__typename).toBe('NotFoundError');
    expect(await prisma.limitChange.count({ where: { userId: user.userId } })).toBe(0);
    expect((await myNotifications(service.url, user.userToken)).filter((n) => n.kind === 'LIMIT_DECREASE_SCHEDULED')).toEqual([]);
    const customer = await gql(service.url, SCHEDULE, { input: { userId: user.userId, newLimitCents: 1, reason: 'INACTIVITY' } }, user.userToken);
    expect(customer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('an immediate decrease for risk, below the credit in use', () => {
  it('applies right after the notice went out: the limit drops under the usage, available is 0, the profile shows it is over its limit', { timeout: 30_000 }, async () => {
    const user = await userWithProfile({ api: service.url }, { limitCents: 1_000_000 });
    const sync = await gql(service.url, `mutation($input: SyncCreditUsageInput!) { syncCreditUsage(input: $input) { __typename } }`,
      { input: { userId: user.userId, usedCents: 700_000 } }, await engineToken());
    expect(sync.data.syncCreditUsage.__typename).toBe('SyncCreditUsageSuccess');

    const scheduled = await schedule({ userId: user.userId, newLimitCents: 500_000, reason: 'RISK_DETERIORATION', effectiveAt: new Date().toISOString() });
    expect(scheduled.__typename).toBe('ScheduleLimitDecreaseSuccess');
    const applied = await appliedChange(scheduled.change.id, 10_000);
    // The customer was told first: the notice had a delivery step before the change applied.
    expect(applied.noticeDeliveredAt!.getTime()).toBeLessThanOrEqual(applied.appliedAt!.getTime());
    expect(applied.appliedAt!.getTime() - applied.createdAt.getTime()).toBeLessThan(NOTICE_MS + 5_000);

    const after = await mine(user.userToken);
    expect(after.creditProfile).toMatchObject({ limit: { cents: 500_000 }, used: { cents: 700_000 }, available: { cents: 0 }, overLimit: true });
    expect(after.creditHistory[0]).toMatchObject({ reason: 'LIMIT_DECREASE', available: { cents: 0 } });
    const events = await stream.settledEventsOf(user.userId, 4);
    const decreased = events.find((e) => e.event.type === 'credit.limit.changed' && (e.event.data as any).changeType === 'DECREASE')!;
    expect(decreased.event.data).toMatchObject({ availableCents: '0', usedCents: '700000', newLimitCents: '500000' });
    expect(eventSchemaErrors(decreased.event)).toBeNull();
  });
});

describe('cancelLimitChange', () => {
  it('before it applies: CANCELLED, the user told it no longer happens, the limit untouched; an applied one cannot be cancelled', { timeout: 30_000 }, async () => {
    const user = await userWithProfile({ api: service.url }, { limitCents: 800_000 });
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const { change } = await schedule({ userId: user.userId, newLimitCents: 400_000, reason: 'PORTFOLIO_REVIEW', effectiveAt: later });
    const cancelled = (await gql(service.url, CANCEL, { id: change.id }, await engineToken())).data.cancelLimitChange;
    expect(cancelled).toMatchObject({ __typename: 'CancelLimitChangeSuccess', change: { id: change.id, status: 'CANCELLED' } });
    expect(cancelled.change.cancelledAt).not.toBeNull();
    // Again: the same answer, and no second notice.
    expect((await gql(service.url, CANCEL, { id: change.id }, await engineToken())).data.cancelLimitChange.change.status).toBe('CANCELLED');
    const told = await notified(user.userId, 'LIMIT_CHANGE_CANCELLED');
    expect(told.deepLink).toBe(`app://credit/limit-changes/${change.id}`);
    expect((await myNotifications(service.url, user.userToken)).filter((n) => n.kind === 'LIMIT_CHANGE_CANCELLED')).toHaveLength(1);
    const after = await mine(user.userToken);
    expect(after.scheduledLimitChanges).toEqual([]);
    expect(after.creditProfile.limit.cents).toBe(800_000);

    // A later decrease replaces one still scheduled; the change is a Node the user can refetch.
    const first = await schedule({ userId: user.userId, newLimitCents: 500_000, reason: 'PORTFOLIO_REVIEW', effectiveAt: later });
    const second = await schedule({ userId: user.userId, newLimitCents: 450_000, reason: 'PORTFOLIO_REVIEW', effectiveAt: later });
    expect((await mine(user.userToken)).scheduledLimitChanges.map((c: any) => [c.id, c.newLimit.cents])).toEqual([[second.change.id, 450_000]]);
    expect(await prisma.limitChange.findUniqueOrThrow({ where: { id: first.change.id } })).toMatchObject({ status: 'CANCELLED' });
    const node = await gql(service.url, 'query ($id: ID!) { node(id: $id) { __typename ... on LimitChange { status newLimit { cents } } } }', { id: first.change.id }, user.userToken);
    expect(node.data.node).toEqual({ __typename: 'LimitChange', status: 'CANCELLED', newLimit: { cents: 500_000 } });

    const now = await schedule({ userId: user.userId, newLimitCents: 100_000, reason: 'CUSTOMER_REQUEST', effectiveAt: new Date().toISOString() });
    await appliedChange(now.change.id);
    const late = (await gql(service.url, CANCEL, { id: now.change.id }, await engineToken())).data.cancelLimitChange;
    expect(late).toMatchObject({ __typename: 'ValidationError' });
    expect((await mine(user.userToken)).creditProfile.limit.cents).toBe(100_000);
    expect((await gql(service.url, CANCEL, { id: '00000000-0000-4000-8000-000000000000' }, await engineToken())).data.cancelLimitChange.__typename).toBe('NotFoundError');
  });
});

describe('a worker restart and a Redis that lost every key between scheduling and applying', () => {
  it('the change still applies, once', { timeout: 60_000 }, async () => {
    const redis = await startThrowawayRedis();
    try {
      const own = { ...config, REDIS_URL: redis.url };
      const first = await startServiceInTest({ config: own });
      const user = await userWithProfile({ api: first.url! }, { limitCents: 900_000 });
      const { change } = await schedule({ userId: user.userId, newLimitCents: 300_000, reason: 'INACTIVITY' }, first.url!);
      await first.close();
      await redis.restart();
      const second = await startServiceInTest({ config: own });
      await appliedChange(change.id);
      // A little longer: a second application would show by now.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect((await mine(user.userToken, second.url!)).creditProfile).toMatchObject({ limit: { cents: 300_000 }, version: 2 });
      expect(await prisma.limitChangeEvent.count({ where: { changeId: change.id, type: 'APPLIED' } })).toBe(1);
      expect(await prisma.notification.count({ where: { dedupeKey: dedupeKey('LIMIT_DECREASED', change.id) } })).toBe(1);
      const changed = await prisma.outboxEvent.findMany({ where: { userId: user.userId, type: 'credit.limit.changed' } });
      expect(changed.filter((e) => (e.payload as any).data.limitChangeId === change.id)).toHaveLength(1);
      await second.close();
    } finally {
      await redis.destroy();
    }
  });
});
