// Offers issued in batches (a campaign's issuance): each input answered in place, idempotent per
// externalRef, users created once however many batches share them; and the edge lets a batch
// of 1,000 through for the credit engine only, counting offers against its budget.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { engineToken, gql, newUserId, token } from './support/client.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig } from './support/settings.ts';

const service = serviceForTests({ worker: false });
const OFFER_BUDGET = 1_500;
const limited = serviceForTests({ worker: false, config: { ...testConfig, RATE_LIMIT_SERVICE_OFFERS_PER_MINUTE: OFFER_BUDGET } });

const ISSUE_OFFERS = /* GraphQL */ `
  mutation IssueOffers($inputs: [IssueCreditOfferInput!]!) {
    issueCreditOffers(inputs: $inputs) {
      __typename
      ... on IssueCreditOfferSuccess { offer { id status campaignId user { id } limit { cents currency } } }
      ... on ValidationError { message field }
    }
  }
`;

const inHour = () => new Date(Date.now() + 3_600_000).toISOString();
interface Input {
  userId: string;
  limitCents: number;
  interestRateBps: number;
  expiresAt: string;
  currency?: string;
  externalRef?: string;
  campaignId?: string;
}
const input = (change: Partial<Input> = {}): Input => ({
  userId: newUserId('campaign'),
  limitCents: 250_000,
  interestRateBps: 199,
  expiresAt: inHour(),
  ...change,
});

type Result = { __typename: string; offer?: { id: string; campaignId: string | null; user: { id: string } }; field?: string };

async function issue(inputs: unknown[], bearer?: string, url = service.url) {
  const response = await gql<{ issueCreditOffers: Result[] }>(url, ISSUE_OFFERS, { inputs }, bearer ?? (await engineToken()));
  return response;
}

describe('issueCreditOffers', () => {
  it('answers each input in place: the good ones issued (with their campaign), the bad ones a ValidationError naming inputs[i]', async () => {
    const campaignId = `campaign-${randomUUID()}`;
    const inputs = [
      input({ campaignId }),
      input({ campaignId, limitCents: 0 }),
      input({ campaignId }),
      input({ campaignId, currency: 'XYZ' }),
      input({ campaignId, expiresAt: new Date(Date.now() - 1_000).toISOString() }),
      input({ campaignId }),
    ];
    const { data, errors } = await issue(inputs);
    expect(errors).toBeUndefined();
    expect(data!.issueCreditOffers.map((r) => r.__typename === 'ValidationError' ? r.field : r.__typename)).toEqual([
      'IssueCreditOfferSuccess',
      'inputs[1].limitCents',
      'IssueCreditOfferSuccess',
      'inputs[3].currency',
      'inputs[4].expiresAt',
      'IssueCreditOfferSuccess',
    ]);
    // Each offer went to its own input's user, with its campaign recorded.
    for (const i of [0, 2, 5]) {
      expect(data!.issueCreditOffers[i]!.offer).toMatchObject({ status: 'PENDING', campaignId, user: { id: inputs[i]!.userId } });
    }
    expect(await prisma.creditOffer.count({ where: { campaignId, status: 'PENDING' } })).toBe(3);
    // The refused inputs' users were not created.
    expect(await prisma.user.count({ where: { id: { in: [1, 3, 4].map((i) => inputs[i]!.userId as string) } } })).toBe(0);
  });

  it('sent twice (a mix of new and known refs), returns the same offers: no duplicate offer, user or outbox event', async () => {
    const shared = newUserId('twice');
    const first = [input({ userId: shared, externalRef: `ref-${randomUUID()}` }), input({ externalRef: `ref-${randomUUID()}` })];
    const firstIds = (await issue(first)).data!.issueCreditOffers.map((r) => r.offer!.id);
    const eventsBefore = await prisma.outboxEvent.count();
    // Again, with one new ref and one repeated ref inside the batch itself.
    // The repeated input is one object: two made apart may straddle a millisecond, and their
    // expiry (an hour from when each was made) differ, which is a ref sent with other terms.
    const repeated = input({ userId: shared, externalRef: `ref-${randomUUID()}` });
    const again = [...first, repeated, repeated];
    const second = (await issue(again)).data!.issueCreditOffers;
    expect(second.map((r) => r.__typename)).toEqual(Array(4).fill('IssueCreditOfferSuccess'));
    expect(second.slice(0, 2).map((r) => r.offer!.id)).toEqual(firstIds);
    expect(second[3]!.offer!.id).toBe(second[2]!.offer!.id);
    const refs = again.map((i) => i.externalRef as string);
    expect(await prisma.creditOffer.count({ where: { externalRef: { in: refs } } })).toBe(3);
    expect(await prisma.user.count({ where: { id: shared } })).toBe(1);
    expect(await prisma.outboxEvent.count()).toBe(eventsBefore);
  });

  it('refuses a known externalRef sent with other terms, in place, and still issues the rest', async () => {
    const taken = input({ externalRef: `ref-${randomUUID()}` });
    await issue([taken]);
    const result = (await issue([input(), { ...taken, limitCents: 1 }])).data!.issueCreditOffers;
    expect(result.map((r) => r.field ?? r.__typename)).toEqual(['IssueCreditOfferSuccess', 'inputs[1].externalRef']);
    expect(await prisma.creditOffer.count({ where: { externalRef: taken.externalRef as string } })).toBe(1);
  });

  it('two concurrent batches sharing new users and refs: every offer issued once, every user created once', async () => {
    const users = Array.from({ length: 50 }, () => newUserId('shared'));
    const refs = users.map(() => `ref-${randomUUID()}`);
    const expiresAt = inHour();
    // Both batches name the same 50 new users in opposite orders; half of the offers share refs.
    const batch = (order: string[], label: string) =>
      order.map((userId) => {
        const k = users.indexOf(userId);
        return input({ userId, expiresAt, limitCents: 100_000 + k, externalRef: k % 2 === 0 ? refs[k] : `${label}-${refs[k]}` });
      });
    const [a, b] = await Promise.all([issue(batch(users, 'a')), issue(batch([...users].reverse(), 'b'))]);
    expect(a.errors ?? b.errors).toBeUndefined();
    const all = [...a.data!.issueCreditOffers, ...b.data!.issueCreditOffers];
    expect(all.every((r) => r.__typename === 'IssueCreditOfferSuccess')).toBe(true);
    // Shared refs gave the same offer to both batches; the others one each: 25 + 2 x 25.
    expect(new Set(all.map((r) => r.offer!.id)).size).toBe(75);
    expect(await prisma.creditOffer.count({ where: { userId: { in: users } } })).toBe(75);
    expect(await prisma.user.count({ where: { id: { in: users } } })).toBe(50);
  });

  it("tells each user of each offer once, in the user's language: an English speaker, a new user (Portuguese)", async () => {
    const english = newUserId('campaign-en');
    await prisma.user.create({ data: { id: english, locale: 'en-US' } });
    const inputs = [input({ userId: english, limitCents: 123_400 }), input({ limitCents: 567_800 })];
    const { data } = await issue(inputs);
    const offerIds = data!.issueCreditOffers.map((r) => r.offer!.id);
    const received = await prisma.notification.findMany({ where: { offerId: { in: offerIds }, kind: 'OFFER_RECEIVED' } });
    expect(received).toHaveLength(2);
    const of = (i: number) => received.find((n) => n.offerId === offerIds[i])!;
    expect(of(0)).toMatchObject({ userId: english, status: 'PENDING', deepLink: `app://credit/offers/${offerIds[0]}` });
    // Amounts as the currency writes them, in either language.
    expect(of(0).body).toBe('A R$ 1.234,00 limit is available to you. Tap to see the offer.');
    expect(of(1)).toMatchObject({ userId: inputs[1]!.userId, deepLink: `app://credit/offers/${offerIds[1]}` });
    expect(of(1).body).toContain('R$ 5.678,00');
    expect(of(1).body).not.toContain('available');
  });

  it('refuses an empty batch and one over 1,000 inputs as bad input, issuing nothing', async () => {
    const before = await prisma.creditOffer.count();
    const empty = await issue([]);
    expect(empty.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const userId = newUserId('oversized');
    const oversized = await issue(Array.from({ length: 1_001 }, () => input({ userId })));
    expect(oversized.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await prisma.creditOffer.count()).toBe(before);
  });

  it('is for the credit engine only', async () => {
    const result = await issue([input()], await token(newUserId()));
    expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('the edge, for a campaign', () => {
  const thousand = () => Array.from({ length: 1_000 }, (_, i) => input({ externalRef: `campaign-ref-${randomUUID()}-${i}` }));

  it('lets a batch of 1,000 through for a credit-engine token, and refuses a body that large from a customer (413)', async () => {
    const inputs = thousand();
    expect(JSON.stringify({ query: ISSUE_OFFERS, variables: { inputs } }).length).toBeGreaterThan(testConfig.HTTP_MAX_BODY_BYTES);
    const engine = await issue(inputs);
    expect(engine.status).toBe(200);
    expect(engine.data!.issueCreditOffers.filter((r) => r.__typename === 'IssueCreditOfferSuccess')).toHaveLength(1_000);

    const customer = await fetch(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(newUserId())}` },
      body: JSON.stringify({ query: ISSUE_OFFERS, variables: { inputs: thousand() } }),
    });
    expect(customer.status).toBe(413);
  });

  it("counts offers, not requests, against the credit engine's budget: a batch beyond it is refused whole", async () => {
    const engine = await token(`engine-${randomUUID()}`, ['credit-engine']);
    expect((await issue(thousand(), engine, limited.url)).status).toBe(200);
    const over = thousand();
    const refused = await issue(over, engine, limited.url);
    expect(refused.status).toBe(429);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(await prisma.creditOffer.count({ where: { externalRef: { in: over.map((i) => i.externalRef as string) } } })).toBe(0);
    // Another credit engine's budget is its own.
    expect((await issue(thousand().slice(0, 10), await token(`engine-${randomUUID()}`, ['credit-engine']), limited.url)).status).toBe(200);
  });
});
