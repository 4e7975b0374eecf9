// A temporary increase as its user sees it: the offer says until when, accepting it raises the
// limit and keeps the permanent one aside (the consent evidence records the end), a reminder
// comes before the end, and the limit returns by itself, the user told; the history shows each
// step and each is one credit.limit.changed with its changeType, valid against the JSON Schema.
import { afterAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { loadConfig } from '../src/platform/config.ts';
import { eventSchemaErrors } from '../src/domain/event-schema.ts';
import { engineToken, gql } from './support/client.ts';
import { streamProbe } from './support/events.ts';
import { acceptOffer, waitForFinal } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';
import { userWithProfile } from './support/users.ts';

import { waitUntil } from './support/wait.ts';

const REMINDER_MS = 2_000;
const service = serviceForTests({ config: { ...loadConfig(), TEMPORARY_LIMIT_REMINDER_BEFORE_MS: REMINDER_MS, LIMIT_CHANGE_INTERVAL_MS: 150 } });
const stream = streamProbe();

/** Waits (reading the database: the API's per-user rate limit is not for polling) for the user's notification of that kind. */
const notified = (userId: string, kind: string) =>
  waitUntil(() => prisma.notification.findFirst({ where: { userId, kind: kind as any } }), `a ${kind} notification`, 20_000);
afterAll(() => stream.close());

const ISSUE = /* GraphQL */ `
  mutation Issue($input: IssueCreditOfferInput!) {
    issueCreditOffer(input: $input) {
      __typename
      ... on IssueCreditOfferSuccess { offer { id temporaryUntil } }
      ... on ValidationError { field message }
    }
  }
`;

const MINE = /* GraphQL */ `
  query {
    me {
      creditProfile { limit { cents } permanentLimit { cents } temporaryUntil available { cents } overLimit }
      scheduledLimitChanges { id type status newLimit { cents } effectiveAt decreaseReason }
      creditHistory { reason changeType previousLimit { cents } newLimit { cents } }
    }
  }
`;

const issue = async (input: Record<string, unknown>) => (await gql(service.url, ISSUE, { input }, await engineToken())).data.issueCreditOffer;

describe('a temporary increase', () => {
  it('raises the limit until its end, reminds the user before, then returns to the permanent limit by itself', { timeout: 40_000 }, async () => {
    const user = await userWithProfile({ api: service.url }, { limitCents: 500_000 });
    const expiresAt = new Date(Date.now() + 2_000);
    const temporaryUntil = new Date(Date.now() + 5_000);
    const offer = await issue({ userId: user.userId, limitCents: 900_000, interestRateBps: 250, expiresAt: expiresAt.toISOString(), temporaryUntil: temporaryUntil.toISOString() });
    expect(offer).toMatchObject({ __typename: 'IssueCreditOfferSuccess', offer: { temporaryUntil: temporaryUntil.toISOString() } });

    const accepted = await acceptOffer(service.url, offer.offer.id, user.userToken);
    expect((await waitForFinal(service.url, accepted.deployment.id, user.userToken)).status).toBe('DEPLOYED');
    const consent = await prisma.acceptanceConsent.findUniqueOrThrow({ where: { offerId: offer.offer.id } });
    expect(consent.terms).toMatchObject({ temporaryUntil: temporaryUntil.toISOString(), limitCents: '900000' });

    const during = (await gql(service.url, MINE, {}, user.userToken)).data.me;
    expect(during.creditProfile).toEqual({
      limit: { cents: 900_000 }, permanentLimit: { cents: 500_000 }, temporaryUntil: temporaryUntil.toISOString(), available: { cents: 900_000 }, overLimit: false,
    });
    expect(during.scheduledLimitChanges).toEqual([
      { id: expect.any(String), type: 'TEMPORARY_END', status: 'SCHEDULED', newLimit: { cents: 500_000 }, effectiveAt: temporaryUntil.toISOString(), decreaseReason: null },
    ]);

    const reminder = await notified(user.userId, 'TEMPORARY_LIMIT_ENDING');
    expect(reminder.body).toContain('R$ 5.000,00');
    expect(new Date(reminder.createdAt).getTime()).toBeLessThan(temporaryUntil.getTime());

    const ended = await notified(user.userId, 'TEMPORARY_LIMIT_ENDED');
    expect(new Date(ended.createdAt).getTime()).toBeGreaterThanOrEqual(temporaryUntil.getTime());
    const after = (await gql(service.url, MINE, {}, user.userToken)).data.me;
    expect(after.creditProfile).toEqual({ limit: { cents: 500_000 }, permanentLimit: { cents: 500_000 }, temporaryUntil: null, available: { cents: 500_000 }, overLimit: false });
    expect(after.scheduledLimitChanges).toEqual([]);
    expect(after.creditHistory).toEqual([
      { reason: 'TEMPORARY_LIMIT_ENDED', changeType: 'TEMPORARY_END', previousLimit: { cents: 900_000 }, newLimit: { cents: 500_000 } },
      { reason: 'OFFER_ACCEPTED', changeType: 'TEMPORARY_START', previousLimit: { cents: 500_000 }, newLimit: { cents: 900_000 } },
      { reason: 'OFFER_ACCEPTED', changeType: 'INCREASE', previousLimit: null, newLimit: { cents: 500_000 } },
    ]);

    const events = await stream.settledEventsOf(user.userId, 4);
    for (const { event } of events) expect(eventSchemaErrors(event)).toBeNull();
    expect(events.map((e) => [e.event.type, (e.event.data as any).changeType])).toEqual([
      ['credit.limit.changed', 'INCREASE'],
      ['credit.limit.changed', 'TEMPORARY_START'],
      ['credit.limit.change.scheduled', 'TEMPORARY_END'],
      ['credit.limit.changed', 'TEMPORARY_END'],
    ]);
    expect(events[1]!.event.data).toMatchObject({ temporaryUntil: temporaryUntil.toISOString(), historyId: accepted.deployment.id });
    expect(events[3]!.event.data).toMatchObject({ reason: 'TEMPORARY_LIMIT_ENDED', newLimitCents: '500000', previousLimitCents: '900000' });
  });

  it('refuses an end that does not outlast the offer, issuing nothing', async () => {
    const user = await userWithProfile({ api: service.url }, { limitCents: 100_000 });
    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    const refused = await issue({ userId: user.userId, limitCents: 200_000, interestRateBps: 250, expiresAt, temporaryUntil: expiresAt });
    expect(refused).toMatchObject({ __typename: 'ValidationError', field: 'input.temporaryUntil' });
    expect(await prisma.creditOffer.count({ where: { userId: user.userId } })).toBe(1);
  });

  it('a permanent offer accepted during a temporary increase makes its limit the permanent one: the end is cancelled', { timeout: 30_000 }, async () => {
    const user = await userWithProfile({ api: service.url }, { limitCents: 300_000 });
    const expiresAt = new Date(Date.now() + 60_000);
    const temporary = await issue({ userId: user.userId, limitCents: 600_000, interestRateBps: 250, expiresAt: expiresAt.toISOString(), temporaryUntil: new Date(Date.now() + 3_600_000).toISOString() });
    await waitForFinal(service.url, (await acceptOffer(service.url, temporary.offer.id, user.userToken)).deployment.id, user.userToken);
    const permanent = await issue({ userId: user.userId, limitCents: 700_000, interestRateBps: 250, expiresAt: expiresAt.toISOString() });
    await waitForFinal(service.url, (await acceptOffer(service.url, permanent.offer.id, user.userToken)).deployment.id, user.userToken);
    const after = await waitUntil(async () => {
      const me = (await gql(service.url, MINE, {}, user.userToken)).data.me;
      return me.scheduledLimitChanges.length === 0 && me;
    }, 'the temporary end cancelled');
    expect(after.creditProfile).toMatchObject({ limit: { cents: 700_000 }, permanentLimit: { cents: 700_000 }, temporaryUntil: null });
    const ends = await prisma.limitChange.findMany({ where: { userId: user.userId } });
    expect(ends.map((c) => [c.type, c.status])).toEqual([['TEMPORARY_END', 'CANCELLED']]);
  });
});
