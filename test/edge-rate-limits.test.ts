// Rate limits, shared by the API processes through Redis: per user on the app's mutations, per
// service token on the credit engine's, per IP on requests without a token and on WebSocket
// connects. Over the limit: RATE_LIMITED with retryAfterSeconds (429 and Retry-After), nothing
// changed, other callers served. With Redis unreachable the limits let requests through.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { prisma } from '../src/platform/db.ts';
import { engineToken, gql, newUserId, token } from './support/client.ts';
import { ISSUE_OFFER } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig } from './support/settings.ts';
import { startTcpProxy } from './support/tcp-proxy.ts';

const limits = {
  RATE_LIMIT_USER_MUTATIONS_PER_MINUTE: 3,
  RATE_LIMIT_SERVICE_MUTATIONS_PER_MINUTE: 4,
  RATE_LIMIT_ANONYMOUS_PER_MINUTE: 5,
  RATE_LIMIT_WS_CONNECTS_PER_MINUTE: 3,
};
const service = serviceForTests({ worker: false, config: { ...testConfig, ...limits } });
// Two processes share the counters.
const second = serviceForTests({ worker: false, config: { ...testConfig, ...limits } });
const proxy = await startTcpProxy(6379);
const cut = serviceForTests({ worker: false, config: { ...testConfig, ...limits, REDIS_URL: proxy.url } });

/** An offer written straight into the database: the credit engine's budget is what one test here measures. */
async function issueOffer(_url: string, { userId = newUserId() }: { userId?: string } = {}) {
  await prisma.user.upsert({ where: { id: userId }, create: { id: userId }, update: {} });
  const offer = await prisma.creditOffer.create({
    data: { userId, limitCents: 100_000n, interestRateBps: 100, currency: 'BRL', expiresAt: new Date(Date.now() + 3_600_000) },
  });
  return { offerId: offer.id, userId, userToken: await token(userId) };
}

const DECLINE = 'mutation ($id: ID!) { declineOffer(offerId: $id) { __typename ... on Error { message } } }';

function expectRateLimited(result: Awaited<ReturnType<typeof gql>>) {
  expect(result.status).toBe(429);
  const retryAfter = Number(result.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(0);
  expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: retryAfter });
  expect(result.data ?? null).toBeNull();
}

describe('per user', () => {
  it("refuses a user's 4th declineOffer in a minute across processes, declining nothing; others are served", async () => {
    const userId = newUserId();
    const jwt = await token(userId);
    const urls = [service.url, second.url, service.url];
    for (const url of urls) {
      const { offerId } = await issueOffer(service.url, { userId });
      expect((await gql(url, DECLINE, { id: offerId }, jwt)).data.declineOffer.__typename).toBe('DeclineOfferSuccess');
    }
    const { offerId } = await issueOffer(service.url, { userId });
    expectRateLimited(await gql(second.url, DECLINE, { id: offerId }, jwt));
    expect((await prisma.creditOffer.findUniqueOrThrow({ where: { id: offerId } })).status).toBe('PENDING');

    const other = await issueOffer(service.url);
    expect((await gql(service.url, DECLINE, { id: other.offerId }, other.userToken)).data.declineOffer.__typename).toBe('DeclineOfferSuccess');
  });

  it('counts every alias: four accepts in one request are refused whole', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    const aliases = Array.from({ length: 4 }, (_, i) => `a${i}: acceptOffer(offerId: $id) { __typename }`).join(' ');
    expectRateLimited(await gql(service.url, `mutation ($id: ID!) { ${aliases} }`, { id: offerId }, userToken));
    expect(await prisma.creditDeployment.count({ where: { offerId } })).toBe(0);
  });
});

describe('per service token', () => {
  it("refuses the credit engine's 5th issueCreditOffer in a minute, issuing nothing", async () => {
    const engine = await engineToken();
    const input = (userId: string) => ({ userId, limitCents: 10_000, interestRateBps: 100, expiresAt: new Date(Date.now() + 60_000).toISOString() });
    for (let i = 0; i < 4; i += 1) expect((await gql(service.url, ISSUE_OFFER, { input: input(newUserId()) }, engine)).errors).toBeUndefined();
    const userId = newUserId();
    expectRateLimited(await gql(service.url, ISSUE_OFFER, { input: input(userId) }, engine));
    expect(await prisma.creditOffer.count({ where: { userId } })).toBe(0);
  });
});

describe('per IP', () => {
  it('refuses the 6th request without a token in a minute; requests with a token are served', async () => {
    for (let i = 0; i < 5; i += 1) expect((await gql(second.url, '{ me { id } }')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expectRateLimited(await gql(second.url, '{ me { id } }'));
    const userId = newUserId();
    expect((await gql(second.url, '{ me { id } }', {}, await token(userId))).data.me.id).toBe(userId);
  });

  it('refuses the 4th WebSocket connect in a minute from one address with 429 and Retry-After', async () => {
    const outcomes: unknown[] = [];
    for (let i = 0; i < 4; i += 1) {
      const socket = new WebSocket(`${service.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
      socket.on('error', () => {});
      outcomes.push(
        await new Promise((resolve) => {
          socket.once('open', () => {
            socket.close();
            resolve('open');
          });
          socket.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode, retryAfter: Number(res.headers['retry-after']) }));
        }),
      );
    }
    expect(outcomes.slice(0, 3)).toEqual(['open', 'open', 'open']);
    expect(outcomes[3]).toEqual({ status: 429, retryAfter: expect.any(Number) });
    expect((outcomes[3] as { retryAfter: number }).retryAfter).toBeGreaterThan(0);
  });
});

describe('Redis unreachable', () => {
  it('lets requests through (the service keeps serving)', async () => {
    const userId = newUserId();
    const jwt = await token(userId);
    const offers = [];
    for (let i = 0; i < 4; i += 1) offers.push((await issueOffer(service.url, { userId })).offerId);
    await proxy.cut();
    try {
      for (const id of offers) expect((await gql(cut.url, DECLINE, { id }, jwt)).data.declineOffer.__typename).toBe('DeclineOfferSuccess');
    } finally {
      await proxy.restore();
    }
  });
});
