// Input as an attacker writes it: control characters in ids, absurd offers (2^53-1 cents, a rate
// of 1,000 %, an expiry in the year 9999), hundreds of devices and 4 KB device tokens.
// Each gets its documented answer (never a 500), nothing changes, honest requests are served.
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { engineToken, gql, newUserId, token } from './support/client.ts';
import { ISSUE_OFFER, issueOffer } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';

const service = serviceForTests({ worker: false });
const NUL_ID = 'a\u0000b';

const REGISTER = `mutation ($token: String!) {
  registerDevice(token: $token, platform: ANDROID) { __typename ... on ValidationError { field message } }
}`;

describe('ids with control characters name nothing', () => {
  it('in queries: null', async () => {
    const result = await gql(service.url, 'query ($id: ID!) { creditOffer(id: $id) { id } creditDeployment(id: $id) { id } }', { id: NUL_ID }, await token(newUserId()));
    expect(result.status).toBe(200);
    expect(result.data).toEqual({ creditOffer: null, creditDeployment: null });
  });

  it('in mutations with a NotFoundError', async () => {
    const jwt = await token(newUserId());
    for (const field of ['acceptOffer(offerId: $id)', 'declineOffer(offerId: $id)', 'acknowledgeNotification(id: $id)']) {
      const result = await gql(service.url, `mutation ($id: ID!) { ${field} { __typename } }`, { id: NUL_ID }, jwt);
      expect(result.status, field).toBe(200);
      expect(Object.values(result.data)[0], field).toEqual({ __typename: 'NotFoundError' });
    }
  });

  it("in the credit engine's calls: a ValidationError, a NotFoundError", async () => {
    const engine = await engineToken();
    const offers = await prisma.creditOffer.count();
    const input = { userId: `eve${NUL_ID}`, limitCents: 1000, interestRateBps: 100, expiresAt: new Date(Date.now() + 60_000).toISOString() };
    const issued = await gql(service.url, ISSUE_OFFER, { input }, engine);
    expect(issued.data.issueCreditOffer).toMatchObject({ __typename: 'ValidationError', field: 'input.userId' });
    const withRef = await gql(service.url, ISSUE_OFFER, { input: { ...input, userId: newUserId(), externalRef: `ref\u0007` } }, engine);
    expect(withRef.data.issueCreditOffer).toMatchObject({ __typename: 'ValidationError', field: 'input.externalRef' });
    const synced = await gql(
      service.url,
      'mutation ($input: SyncCreditUsageInput!) { syncCreditUsage(input: $input) { __typename } }',
      { input: { userId: NUL_ID, usedCents: 0 } },
      engine,
    );
    expect(synced.data.syncCreditUsage.__typename).toBe('NotFoundError');
    expect(await prisma.creditOffer.count()).toBe(offers);
    await issueOffer(service.url); // served
  });
});

describe('offers within the configured caps', () => {
  it.each([
    ['a limit of 2^53-1 cents', { limitCents: Number.MAX_SAFE_INTEGER }, 'input.limitCents'],
    ['a rate of 1,000 %', { interestRateBps: 100_000 }, 'input.interestRateBps'],
    ['an expiry in the year 9999', { expiresAt: '9999-12-31T00:00:00.000Z' }, 'input.expiresAt'],
    ['an expiry past the 180-day horizon', { expiresAt: new Date(Date.now() + 181 * 86_400_000).toISOString() }, 'input.expiresAt'],
  ])('refuses %s', async (_case, overrides, field) => {
    const userId = newUserId();
    const input = { userId, limitCents: 150_000, interestRateBps: 250, expiresAt: new Date(Date.now() + 3_600_000).toISOString(), ...overrides };
    const result = await gql(service.url, ISSUE_OFFER, { input }, await engineToken());
    expect(result.data.issueCreditOffer).toMatchObject({ __typename: 'ValidationError', field });
    expect(await prisma.creditOffer.count({ where: { userId } })).toBe(0);
  });
});

describe('devices', () => {
  it('keeps at most 10 per user: the 11th drops the oldest', async () => {
    const userId = newUserId();
    const jwt = await token(userId);
    const tokens = Array.from({ length: 11 }, (_, i) => `fcm-${i}-${userId}`);
    for (const t of tokens) expect((await gql(service.url, REGISTER, { token: t }, jwt)).data.registerDevice.__typename).toBe('RegisterDeviceSuccess');
    const kept = await prisma.device.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } });
    expect(kept.map((d) => d.token)).toEqual(tokens.slice(1));
  });

  it('refuses a 4 KB token and one with spaces or control characters', async () => {
    const userId = newUserId();
    const jwt = await token(userId);
    for (const t of ['x'.repeat(4096), 'two words', 'nul\u0000']) {
      const result = await gql(service.url, REGISTER, { token: t }, jwt);
      expect(result.data.registerDevice).toMatchObject({ __typename: 'ValidationError', field: 'token' });
    }
    expect(await prisma.device.count({ where: { userId } })).toBe(0);
  });
});
