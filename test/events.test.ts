// Downstream events as a system that follows the stream sees them: one credit.limit.changed per
// applied deployment with the right amounts, none for a FAILED one, usage syncs and expired
// offers, per-user order under concurrent changes and two more relays, every event valid
// against the published JSON Schema; and the insights consumer's history through GraphQL.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { eventSchemaErrors } from '../src/domain/event-schema.ts';
import { syncCreditUsage } from '../src/domain/profiles.ts';
import { startOutboxRelay } from '../src/events/outbox-relay.ts';
import { eventStreamPublisher } from '../src/events/stream-publisher.ts';
import { createRedis } from '../src/platform/redis.ts';
import { testConfig as config, testRedis } from './support/settings.ts';
import { engineToken, gql, newUserId, token } from './support/client.ts';
import { streamProbe } from './support/events.ts';
import { userWithProfile } from './support/users.ts';
import { acceptOffer, issueOffer, waitForFinal } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';
import { waitUntil } from './support/wait.ts';

const service = serviceForTests({ insights: true });
const stream = streamProbe();
afterAll(() => stream.close());

const SYNC_USAGE = /* GraphQL */ `
  mutation Sync($input: SyncCreditUsageInput!) { syncCreditUsage(input: $input) { __typename } }
`;

const CREDIT_HISTORY = /* GraphQL */ `
  query History($first: Int, $after: ID) {
    me { creditHistory(first: $first, after: $after) {
      id at reason deploymentId previousLimit { cents currency } newLimit { cents currency formatted }
    } }
  }
`;

async function deploy(url: string, limitCents: number, userId?: string) {
  const offer = await issueOffer(url, { limitCents, ...(userId ? { userId } : {}) });
  const accepted = await acceptOffer(url, offer.offerId, offer.userToken);
  const deployment = await waitForFinal(url, accepted.deployment.id, offer.userToken);
  return { ...offer, deployment };
}

async function syncUsage(url: string, userId: string, usedCents: number) {
  const result = await gql(url, SYNC_USAGE, { input: { userId, usedCents } }, await engineToken());
  expect(result.data?.syncCreditUsage.__typename).toBe('SyncCreditUsageSuccess');
}

describe('credit.limit.changed', () => {
  it('a deployment applied publishes exactly one event, with the amounts of the change, valid against the schema', async () => {
    const first = await deploy(service.url, 150_000);
    const second = await deploy(service.url, 250_000, first.userId);
    expect(second.deployment.status).toBe('DEPLOYED');

    const events = await stream.settledEventsOf(first.userId, 2);
    expect(events.map((e) => e.event.sequence)).toEqual([1, 2]);
    const [, raised] = events;
    expect(raised!.fields).toMatchObject({ type: 'credit.limit.changed', userId: first.userId, sequence: '2' });
    expect(raised!.event).toMatchObject({
      type: 'credit.limit.changed',
      version: 2,
      userId: first.userId,
      correlationId: second.deployment.correlationId,
      data: {
        reason: 'OFFER_ACCEPTED',
        currency: 'BRL',
        previousLimitCents: '150000',
        newLimitCents: '250000',
        availableCents: '250000',
        usedCents: '0',
        interestRateBps: 250,
        offerId: second.offerId,
        deploymentId: second.deployment.id,
        // Version 2: the kind of change, and its id in the service's history (the deployment's).
        changeType: 'INCREASE',
        historyId: second.deployment.id,
        decreaseReason: null,
        limitChangeId: null,
        temporaryUntil: null,
      },
    });
    // The first limit of a user has no previous one.
    expect(events[0]!.event.data).toMatchObject({ previousLimitCents: null, newLimitCents: '150000' });
    for (const { event } of events) expect(eventSchemaErrors(event)).toBeNull();
  });

  it('a FAILED deployment publishes nothing; a usage sync publishes only when it changes what is available', async () => {
    const { userId, userToken } = await deploy(service.url, 100_000);
    await syncUsage(service.url, userId, 90_000);
    await syncUsage(service.url, userId, 90_000); // nothing changes: no event

    const refused = await issueOffer(service.url, { userId, limitCents: 50_000 });
    const accepted = await acceptOffer(service.url, refused.offerId, userToken);
    expect((await waitForFinal(service.url, accepted.deployment.id, userToken)).status).toBe('FAILED');
    await syncUsage(service.url, userId, 10_000); // a marker after the failure, so the wait below covers it

    const events = await stream.settledEventsOf(userId, 3);
    expect(events.map(({ event }) => [event.sequence, event.type === 'credit.limit.changed' && event.data.reason, (event.data as any).availableCents])).toEqual([
      [1, 'OFFER_ACCEPTED', '100000'],
      [2, 'USAGE_SYNC', '10000'],
      [3, 'USAGE_SYNC', '90000'],
    ]);
    expect(events[1]!.event.data).toMatchObject({ previousLimitCents: '100000', newLimitCents: '100000', usedCents: '90000', deploymentId: null });
    for (const { event } of events) expect(eventSchemaErrors(event)).toBeNull();
  });
});

describe('credit.offer.expired', () => {
  it('an offer nobody accepted is published when it expires, in the user sequence', async () => {
    // Already due when written (issuing through the API refuses a past expiry): the next expiry run takes it.
    const userId = newUserId();
    const offer = await prisma.creditOffer.create({
      data: { user: { create: { id: userId } }, limitCents: 70_000n, interestRateBps: 250, currency: 'BRL', expiresAt: new Date(Date.now() - 1_000) },
    });
    const [expired] = await stream.settledEventsOf(userId, 1);
    expect(expired!.event).toMatchObject({
      type: 'credit.offer.expired',
      sequence: 1,
      data: { offerId: offer.id, limitCents: '70000', currency: 'BRL', interestRateBps: 250 },
    });
    expect(eventSchemaErrors(expired!.event)).toBeNull();
  });
});

describe('the stored envelope', () => {
  it('a row stores only what its columns do not hold, and goes out whole; a row written with the whole envelope goes out as written', async () => {
    const { userId, deployment } = await deploy(service.url, 120_000);
    const [published] = await stream.settledEventsOf(userId, 1);
    const [row] = await prisma.$queryRaw<{ id: string; occurredAt: Date; stored: Record<string, unknown> }[]>`
      SELECT id::text AS id, occurred_at AS "occurredAt", payload AS stored FROM outbox_events WHERE user_id = ${userId}`;
    expect(Object.keys(row!.stored).sort()).toEqual(['correlationId', 'data', 'version']);
    expect(published!.event).toEqual({
      id: row!.id,
      type: 'credit.limit.changed',
      version: 2,
      occurredAt: row!.occurredAt.toISOString(),
      userId,
      sequence: 1,
      correlationId: deployment.correlationId,
      data: row!.stored.data,
    });
    expect(eventSchemaErrors(published!.event)).toBeNull();

    // Written before the columns were left out of the payload: every field in it, published as it is.
    const earlier = newUserId();
    const id = randomUUID();
    const envelope = {
      id, type: 'credit.offer.expired', version: 1, occurredAt: '2026-12-01T10:00:00.123Z', userId: earlier, sequence: 1,
      correlationId: 'corr-written-before',
      data: { offerId: randomUUID(), limitCents: '5000', currency: 'BRL', interestRateBps: 199 },
    };
    await prisma.user.create({ data: { id: earlier, lastEventSequence: 1 } });
    await prisma.$executeRaw`
      INSERT INTO outbox_events (id, user_id, sequence, type, occurred_at, payload)
      VALUES (${id}::uuid, ${earlier}, 1, 'credit.offer.expired', now(), ${JSON.stringify(envelope)}::jsonb)`;
    const [stored] = await prisma.$queryRaw<{ text: string }[]>`SELECT payload::text AS text FROM outbox_events WHERE id = ${id}::uuid`;
    const [old] = await stream.settledEventsOf(earlier, 1);
    expect(old!.fields.event).toBe(stored!.text);
    expect(old!.event).toEqual(envelope);
  });
});

describe('order per user', () => {
  it('100 changes of one user arrive once each, in sequence order, with two more relays running', async () => {
    const relayConnections = [createRedis('publisher', testRedis), createRedis('publisher', testRedis)];
    const relays = relayConnections.map((redis) =>
      startOutboxRelay(
        eventStreamPublisher(redis, { key: stream.key, maxLength: 100_000 }),
        { intervalMs: 5, housekeepingMs: 60_000, batch: { users: 10, events: 7 } },
        testRedis.logger,
      ),
    );
    try {
      const { userId } = await userWithProfile('seeded');
      // Ten at a time: they queue on the profile's row lock; the sequence follows the commits.
      for (let round = 0; round < 10; round += 1) {
        await Promise.all(Array.from({ length: 10 }, (_, i) => syncCreditUsage(userId, round * 10 + i + 1)));
      }
      const events = await stream.settledEventsOf(userId, 100);
      expect(events.map((e) => e.event.sequence)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(new Set(events.map((e) => e.event.id)).size).toBe(100);
      const profile = await prisma.creditProfile.findUniqueOrThrow({ where: { userId } });
      expect(events.at(-1)!.event.data).toMatchObject({ usedCents: profile.usedCents.toString() });
    } finally {
      await Promise.all(relays.map((relay) => relay.stop()));
      await Promise.all(relayConnections.map((redis) => redis.quit()));
    }
  });
});

describe('the JSON Schema', () => {
  it('refuses an event with anything added, missing or of the wrong type', async () => {
    const { userId } = await deploy(service.url, 10_000);
    const event: any = (await stream.settledEventsOf(userId, 1))[0]!.event;
    expect(eventSchemaErrors(event)).toBeNull();
    const mutations: [string, (e: any) => void][] = [
      ['a property added', (e) => (e.extra = 1)],
      ['a data property added', (e) => (e.data.creditScore = 700)],
      ['an amount as a number', (e) => (e.data.newLimitCents = 10_000)],
      ['an amount with decimals', (e) => (e.data.availableCents = '100.00')],
      ['no correlation id', (e) => delete e.correlationId],
      ['sequence 0', (e) => (e.sequence = 0)],
      ['an unknown reason', (e) => (e.data.reason = 'GIFT')],
      ['another version', (e) => (e.version = 3)],
      ['a version 2 payload labelled version 1', (e) => (e.version = 1)],
      ['an unknown change type', (e) => (e.data.changeType = 'GIFT')],
      ['no history id', (e) => delete e.data.historyId],
      ['an id that is no uuid', (e) => (e.id = 'event-1')],
    ];
    for (const [what, mutate] of mutations) {
      const mutated = structuredClone(event);
      mutate(mutated);
      expect(eventSchemaErrors(mutated), what).not.toBeNull();
    }
    // Version 1 (what was published before version 2, and what a replay of old rows still sends) stays valid.
    const { changeType: _t, historyId: _h, effectiveAt: _e, decreaseReason: _d, limitChangeId: _l, temporaryUntil: _u, ...v1Data } = event.data;
    expect(eventSchemaErrors({ ...event, version: 1, data: v1Data })).toBeNull();
    expect(eventSchemaErrors({ ...event, version: 1, data: { ...v1Data, reason: 'LIMIT_DECREASE' } }), 'a version 1 reason list is closed').not.toBeNull();
  });
});

describe("User.creditHistory (the service's own records)", () => {
  it('lists the limit changes newest first, in pages; refuses a bad page as BAD_USER_INPUT', async () => {
    const first = await deploy(service.url, 100_000);
    const second = await deploy(service.url, 300_000, first.userId);
    await syncUsage(service.url, first.userId, 50_000);
    const history = async (variables: Record<string, unknown>, who = first.userToken) => gql(service.url, CREDIT_HISTORY, variables, who);

    const all = await waitUntil(async () => {
      const page = (await history({})).data?.me.creditHistory;
      return page?.length === 3 && page;
    }, 'three history entries');
    expect(all.map((c: any) => [c.reason, c.previousLimit?.cents ?? null, c.newLimit.cents, c.deploymentId])).toEqual([
      ['USAGE_SYNC', 300_000, 300_000, null],
      ['OFFER_ACCEPTED', 100_000, 300_000, second.deployment.id],
      ['OFFER_ACCEPTED', null, 100_000, first.deployment.id],
    ]);
    expect(all[1].newLimit.formatted).toBe('R$ 3.000,00');

    const page1 = (await history({ first: 2 })).data.me.creditHistory;
    const page2 = (await history({ first: 2, after: page1[1].id })).data.me.creditHistory;
    expect([...page1, ...page2].map((c: any) => c.id)).toEqual(all.map((c: any) => c.id));

    const other = await token(newUserId());
    for (const [variables, who] of [
      [{ first: 0 }, first.userToken],
      [{ first: 101 }, first.userToken],
      [{ after: 'not-an-id' }, first.userToken],
      [{ after: '00000000-0000-4000-8000-000000000000' }, first.userToken],
      [{ after: all[0].id }, other],
    ] as const) {
      const result = await history(variables, who);
      expect(result.errors?.[0]?.extensions?.code, JSON.stringify(variables)).toBe('BAD_USER_INPUT');
      expect(result.data ?? null).toBeNull();
    }
  });
});
