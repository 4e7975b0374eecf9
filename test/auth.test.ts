// Who may do what: tokens, roles, and other users' objects.
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { tokenSigner } from '../src/api/auth.ts';
import { loadConfig } from '../src/platform/config.ts';
import { engineToken, gql, newUserId, sseSubscribe, token, wsSubscribe } from './support/client.ts';
import { acceptOffer, DEPLOYMENT, ISSUE_OFFER, issueOffer, waitForFinal } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';

const signToken = tokenSigner(loadConfig().JWT_SECRET);

const service = serviceForTests();

const ME = '{ me { id } }';
const SYNC = /* GraphQL */ `
  mutation Sync($input: SyncCreditUsageInput!) {
    syncCreditUsage(input: $input) {
      __typename
      ... on SyncCreditUsageSuccess { profile { used { cents } available { cents } version } }
      ... on Error { message }
    }
  }
`;
const OFFER = 'query Offer($id: ID!) { creditOffer(id: $id) { id status user { id } } }';

const forged = () =>
  new SignJWT({ roles: ['credit-engine'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('mallory')
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode('not-the-servers-secret-but-long-enough-0123456789'));

// A lifetime of -60 s: it expired a minute ago, and its lifetime is within the cap (an absolute
// time here, as this line once passed, would make a token refused for living too long instead).
const expired = () => signToken(newUserId(), ['customer'], {}, -60);

describe('authentication', () => {
  it('answers UNAUTHENTICATED without a token', async () => {
    const result = await gql(service.url, ME);
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(result.data).toBeNull();
  });

  it.each([
    ['forged', forged],
    ['expired', expired],
    ['garbage', async () => 'not.a.jwt'],
  ])('answers UNAUTHENTICATED for a %s token', async (_kind, make) => {
    const result = await gql(service.url, ME, {}, await make());
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('closes a WebSocket without a valid token with 4403 (at connection_init, before any subscription)', async () => {
    const consume = async () => {
      for await (const _ of wsSubscribe(service.url, 'subscription { creditDeployment(id: "x") { sequence } }', {}, await forged()));
    };
    await expect(consume()).rejects.toMatchObject({ code: 4403 });
  });

  it('refuses an SSE subscription without a token', async () => {
    const messages = [];
    for await (const m of sseSubscribe(service.url, 'subscription { creditDeployment(id: "x") { sequence } }', {})) messages.push(m);
    expect(messages[0]?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('roles', () => {
  it('a customer cannot issue offers (FORBIDDEN) and nothing is created', async () => {
    const input = { userId: newUserId(), limitCents: 100, interestRateBps: 1, expiresAt: new Date(Date.now() + 60_000).toISOString() };
    const result = await gql(service.url, ISSUE_OFFER, { input }, await token(input.userId));
    expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const offers = await gql(service.url, '{ me { offers { id } } }', {}, await token(input.userId));
    expect(offers.data.me.offers).toEqual([]);
  });

  it('a customer cannot sync credit usage (FORBIDDEN)', async () => {
    const result = await gql(service.url, SYNC, { input: { userId: 'someone', usedCents: 0 } }, await token(newUserId()));
    expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('ops staff may read any offer and deployment, but cannot accept for the user', async () => {
    const { offerId, userId } = await issueOffer(service.url);
    const ops = await token('support-1', ['ops']);
    const read = await gql(service.url, OFFER, { id: offerId }, ops);
    expect(read.data.creditOffer).toMatchObject({ id: offerId, user: { id: userId } });
    const accepted = await acceptOffer(service.url, offerId, ops);
    expect(accepted.__typename).toBe('NotFoundError');
  });
});

describe("other users' objects", () => {
  it('are invisible: null offer, null deployment, and no trace in me', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    const accepted = await acceptOffer(service.url, offerId, userToken);
    await waitForFinal(service.url, accepted.deployment.id, userToken);
    const stranger = await token(newUserId('stranger'));
    expect((await gql(service.url, OFFER, { id: offerId }, stranger)).data.creditOffer).toBeNull();
    expect((await gql(service.url, DEPLOYMENT, { id: accepted.deployment.id }, stranger)).data.creditDeployment).toBeNull();
    const me = await gql(service.url, '{ me { creditProfile { version } offers { id } deployments { id } } }', {}, stranger);
    expect(me.data.me).toEqual({ creditProfile: null, offers: [], deployments: [] });
  });
});

describe('syncCreditUsage', () => {
  it('updates used and available (never negative) and bumps the version', async () => {
    const { offerId, userToken, userId } = await issueOffer(service.url, { limitCents: 100_000 });
    await waitForFinal(service.url, (await acceptOffer(service.url, offerId, userToken)).deployment.id, userToken);
    const engine = await engineToken();
    const partly = await gql(service.url, SYNC, { input: { userId, usedCents: 40_001 } }, engine);
    expect(partly.data.syncCreditUsage.profile).toEqual({ used: { cents: 40_001 }, available: { cents: 59_999 }, version: 2 });
    const over = await gql(service.url, SYNC, { input: { userId, usedCents: 150_000 } }, engine);
    expect(over.data.syncCreditUsage.profile).toEqual({ used: { cents: 150_000 }, available: { cents: 0 }, version: 3 });
  });

  it('refuses negative usage, and answers NotFoundError for a user without a profile', async () => {
    const engine = await engineToken();
    const negative = await gql(service.url, SYNC, { input: { userId: 'x', usedCents: -1 } }, engine);
    expect(negative.data.syncCreditUsage).toMatchObject({ __typename: 'ValidationError', message: expect.any(String) });
    const missing = await gql(service.url, SYNC, { input: { userId: newUserId(), usedCents: 0 } }, engine);
    expect(missing.data.syncCreditUsage.__typename).toBe('NotFoundError');
  });
});

describe('bad requests', () => {
  it('a malformed query is a 400 with a parse error, never a 500 or a stack trace', async () => {
    const result = await gql(service.url, '{ me { ', {}, await token('u'));
    expect(result.status).toBe(400);
    expect(JSON.stringify(result)).not.toMatch(/at .*\.ts:\d+/);
  });

  it('the response echoes the correlation id', async () => {
    const result = await gql(service.url, ME, {}, await token('u'), { 'x-request-id': 'trace-abc-123' });
    expect(result.headers.get('x-request-id')).toBe('trace-abc-123');
  });
});
