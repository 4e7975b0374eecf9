// Issuing, accepting and declining offers: validation, idempotency and the typed errors.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { engineToken, gql, newUserId, token } from './support/client.ts';
import { ACCEPT_OFFER, acceptOffer, ISSUE_OFFER, issueOffer, waitForFinal } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';

const service = serviceForTests();

const DECLINE = /* GraphQL */ `
  mutation Decline($offerId: ID!) {
    declineOffer(offerId: $offerId) {
      __typename
      ... on DeclineOfferSuccess { offer { id status } }
      ... on Error { message }
      ... on OfferNotPendingError { status }
    }
  }
`;

const validInput = () => ({
  userId: newUserId(),
  limitCents: 500_000,
  interestRateBps: 300,
  expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
});

describe('issueCreditOffer', () => {
  it.each([
    ['a zero amount', { limitCents: 0 }, 'input.limitCents'],
    ['a negative amount', { limitCents: -100 }, 'input.limitCents'],
    ['a negative rate', { interestRateBps: -1 }, 'input.interestRateBps'],
    ['an expiry in the past', { expiresAt: new Date(Date.now() - 1000).toISOString() }, 'input.expiresAt'],
    ['a currency that is not ISO 4217', { currency: 'XYZ' }, 'input.currency'],
    ['a lower-case currency', { currency: 'brl' }, 'input.currency'],
    ['an empty user id', { userId: '' }, 'input.userId'],
  ])('refuses %s with a ValidationError naming the field, and creates nothing', async (_what, change, field) => {
    const input = { ...validInput(), ...change };
    const before = await prisma.creditOffer.count();
    const result = await gql(service.url, ISSUE_OFFER, { input }, await engineToken());
    expect(result.status).toBe(200);
    expect(result.data.issueCreditOffer).toMatchObject({ __typename: 'ValidationError', field });
    expect(result.data.issueCreditOffer.message).toEqual(expect.any(String));
    expect(await prisma.creditOffer.count()).toBe(before);
  });

  it('refuses an amount beyond SafeInt as bad input (400), never a 500', async () => {
    const result = await gql(service.url, ISSUE_OFFER, { input: { ...validInput(), limitCents: 2 ** 53 } }, await engineToken());
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.message).toMatch(/SafeInt|safe/i);
  });

  it('is idempotent on externalRef: issuing twice returns the same offer', async () => {
    const input = { ...validInput(), externalRef: `ref-${Date.now()}` };
    const first = await gql(service.url, ISSUE_OFFER, { input }, await engineToken());
    const second = await gql(service.url, ISSUE_OFFER, { input }, await engineToken());
    expect(second.data.issueCreditOffer.offer.id).toBe(first.data.issueCreditOffer.offer.id);
    expect(await prisma.creditOffer.count({ where: { externalRef: input.externalRef } })).toBe(1);
  });

  it('10 offers issued at once to a user never seen before: all 10 issued, one user row', async () => {
    const userId = newUserId('burst');
    const engine = await engineToken();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => gql(service.url, ISSUE_OFFER, { input: { ...validInput(), userId, limitCents: 100_000 + i } }, engine)),
    );
    expect(results.map((r) => r.errors?.[0]?.extensions?.code ?? r.data.issueCreditOffer.__typename)).toEqual(
      Array(10).fill('IssueCreditOfferSuccess'),
    );
    expect(await prisma.creditOffer.count({ where: { userId } })).toBe(10);
    expect(await prisma.user.count({ where: { id: userId } })).toBe(1);
  });

  it('refuses an externalRef reused with different terms', async () => {
    const input = { ...validInput(), externalRef: `ref-conflict-${Date.now()}` };
    await gql(service.url, ISSUE_OFFER, { input }, await engineToken());
    const result = await gql(service.url, ISSUE_OFFER, { input: { ...input, limitCents: 1 } }, await engineToken());
    expect(result.data.issueCreditOffer).toMatchObject({ __typename: 'ValidationError', field: 'input.externalRef' });
  });
});

describe('acceptOffer', () => {
  it('40 concurrent accepts of one offer give one deployment, 40 successes and one profile change', async () => {
    const { offerId, userToken, userId } = await issueOffer(service.url, { limitCents: 777_700 });
    const results = await Promise.all(Array.from({ length: 40 }, () => acceptOffer(service.url, offerId, userToken)));
    expect(results.every((r) => r.__typename === 'AcceptOfferSuccess')).toBe(true);
    const ids = new Set(results.map((r) => r.deployment.id));
    expect(ids.size).toBe(1);
    const [deploymentId] = [...ids];
    await waitForFinal(service.url, deploymentId!, userToken);
    expect(await prisma.creditDeployment.count({ where: { offerId } })).toBe(1);
    expect(await prisma.acceptanceConsent.count({ where: { offerId } })).toBe(1);
    const profile = await prisma.creditProfile.findUniqueOrThrow({ where: { userId } });
    expect(profile).toMatchObject({ limitCents: 777_700n, availableCents: 777_700n, version: 1 });
    expect(await prisma.deploymentEvent.count({ where: { deploymentId: deploymentId!, type: 'PROFILE_UPDATED' } })).toBe(1);
  });

  it('records the consent: who, when, IP, user agent and the hash of the exact terms', async () => {
    const { offerId, userToken, userId } = await issueOffer(service.url, { limitCents: 123_456, interestRateBps: 175 });
    await acceptOffer(service.url, offerId, userToken, { 'user-agent': 'credit-app/1.0 (test)' });
    const consent = await prisma.acceptanceConsent.findUniqueOrThrow({ where: { offerId } });
    expect(consent).toMatchObject({ userId, userAgent: 'credit-app/1.0 (test)', ipAddress: expect.stringContaining('127.0.0.1') });
    expect(consent.terms).toMatchObject({ limitCents: '123456', interestRateBps: 175, currency: 'BRL', offerId });
    // Anyone holding the stored terms can check the hash: sha256 of the terms as sorted-key JSON.
    const sortedKeys = JSON.stringify(Object.fromEntries(Object.entries(consent.terms as object).sort()));
    expect(consent.termsHash).toBe(createHash('sha256').update(sortedKeys).digest('hex'));
    expect(consent.termsHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives OfferExpiredError for an offer past its expiry, before any expiry job ran', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    // The offer's time runs out (issuing refuses a past expiry, so move it back in the database).
    await prisma.creditOffer.update({ where: { id: offerId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const result = await acceptOffer(service.url, offerId, userToken);
    expect(result.__typename).toBe('OfferExpiredError');
    expect(new Date(result.expiredAt).getTime()).toBeLessThanOrEqual(Date.now());
    expect(await prisma.creditDeployment.count({ where: { offerId } })).toBe(0);
  });

  it('gives OfferNotPendingError for a declined offer', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    const declined = await gql(service.url, DECLINE, { offerId }, userToken);
    expect(declined.data.declineOffer).toMatchObject({ __typename: 'DeclineOfferSuccess', offer: { status: 'DECLINED' } });
    const result = await acceptOffer(service.url, offerId, userToken);
    expect(result).toMatchObject({ __typename: 'OfferNotPendingError', status: 'DECLINED' });
  });

  it.each(['not-a-uuid', '00000000-0000-0000-0000-000000000000', "'; DROP TABLE credit_offers; --"])(
    'gives NotFoundError for the id %s',
    async (offerId) => {
      const result = await gql(service.url, ACCEPT_OFFER, { offerId }, await token(newUserId()));
      expect(result.data.acceptOffer.__typename).toBe('NotFoundError');
    },
  );

  it("gives NotFoundError for another user's offer and changes nothing", async () => {
    const { offerId } = await issueOffer(service.url);
    const result = await acceptOffer(service.url, offerId, await token(newUserId('intruder')));
    expect(result.__typename).toBe('NotFoundError');
    const offer = await prisma.creditOffer.findUniqueOrThrow({ where: { id: offerId } });
    expect(offer.status).toBe('PENDING');
  });
});

describe('declineOffer', () => {
  it('cannot decline an accepted offer', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    await acceptOffer(service.url, offerId, userToken);
    const result = await gql(service.url, DECLINE, { offerId }, userToken);
    expect(result.data.declineOffer.__typename).toBe('OfferNotPendingError');
  });

  it("cannot decline another user's offer", async () => {
    const { offerId } = await issueOffer(service.url);
    const result = await gql(service.url, DECLINE, { offerId }, await token(newUserId()));
    expect(result.data.declineOffer.__typename).toBe('NotFoundError');
  });
});
