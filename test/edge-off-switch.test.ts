// EDGE_PROTECTIONS_OFF, the bench's "off" side (refused in production: config.test.ts): each
// protection it names is really off, and the same request is refused by the same service with
// the protections on. Two API processes with the same low limits, one of each.
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { gql, newUserId, sseSubscribe, token } from './support/client.ts';
import { acceptOffer, issueOffer } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig } from './support/settings.ts';

const low = { ...testConfig, RATE_LIMIT_USER_MUTATIONS_PER_MINUTE: 1, MAX_SUBSCRIPTIONS_PER_USER: 1 };
const guarded = serviceForTests({ worker: false, config: low });
const open = serviceForTests({
  worker: false,
  config: { ...low, EDGE_PROTECTIONS_OFF: ['rate-limits', 'document-limits', 'subscription-caps', 'token-checks'] },
});

const DECLINE = 'mutation ($id: ID!) { declineOffer(offerId: $id) { __typename } }';
const WATCH = 'subscription ($id: ID!) { creditDeployment(id: $id) { sequence status } }';

/** A user's two declines in a row, through `url`. */
async function twoDeclines(url: string) {
  const userId = newUserId();
  const jwt = await token(userId);
  const results = [];
  for (let i = 0; i < 2; i++) {
    await prisma.user.upsert({ where: { id: userId }, create: { id: userId }, update: {} });
    const offer = await prisma.creditOffer.create({
      data: { userId, limitCents: 100_000n, interestRateBps: 100, currency: 'BRL', expiresAt: new Date(Date.now() + 3_600_000) },
    });
    results.push(await gql(url, DECLINE, { id: offer.id }, jwt));
  }
  return results;
}

/** `me { offers { user { ... } } }`, `levels` fields deep. */
function deepDocument(levels: number): string {
  let body = 'id';
  for (let level = levels - 1; level >= 1; level -= 1) body = `${level % 2 === 1 ? 'offers' : 'user'} { ${body} }`;
  return `{ me { ${body} } }`;
}

/** A user's second live stream while the first is open: the first message of each. */
async function twoStreams(url: string) {
  const { offerId, userToken } = await issueOffer(url);
  const { deployment } = await acceptOffer(url, offerId, userToken);
  const first = sseSubscribe(url, WATCH, { id: deployment.id }, userToken);
  const second = sseSubscribe(url, WATCH, { id: deployment.id }, userToken);
  try {
    const a = (await first.next()).value;
    const b = (await second.next()).value;
    return [a, b];
  } finally {
    await Promise.all([first.return(undefined), second.return(undefined)]);
  }
}

describe('EDGE_PROTECTIONS_OFF', () => {
  it('rate-limits: a user over the limit is served', async () => {
    const [, refused] = await twoDeclines(guarded.url);
    expect(refused!.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    const served = await twoDeclines(open.url);
    expect(served.map((r) => r.data?.declineOffer.__typename)).toEqual(['DeclineOfferSuccess', 'DeclineOfferSuccess']);
  });

  it('document-limits: a document 14 levels deep runs', async () => {
    const ops = await token('ops-person', ['ops']);
    const refused = await gql(guarded.url, deepDocument(14), {}, ops);
    expect(refused.errors?.[0]?.message).toMatch(/depth limit of 10 exceeded/);
    const served = await gql(open.url, deepDocument(14), {}, ops);
    expect(served.errors).toBeUndefined();
    expect(served.data.me.offers).toEqual([]); // ran: the ops person has no offers
  });

  it('token-checks: a token without exp is accepted (its signature still checked)', async () => {
    const userId = newUserId();
    const secret = new TextEncoder().encode(testConfig.JWT_SECRET);
    const forever = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(userId).setIssuedAt().sign(secret);
    expect((await gql(guarded.url, '{ me { id } }', {}, forever)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await gql(open.url, '{ me { id } }', {}, forever)).data.me.id).toBe(userId);
    const forged = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(userId).sign(new TextEncoder().encode('x'.repeat(40)));
    expect((await gql(open.url, '{ me { id } }', {}, forged)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('subscription-caps: a user holds more live streams than the cap', async () => {
    const [, refused] = await twoStreams(guarded.url);
    expect(refused!.errors?.[0]?.extensions?.code).toBe('TOO_MANY_SUBSCRIPTIONS');
    const [, served] = await twoStreams(open.url);
    expect(served!.errors).toBeUndefined();
    expect(served!.data.creditDeployment.status).toBe('QUEUED');
  });
});
