// The user's lists as the contract's "Lists" says: pages newest first, (time, id) descending,
// `first` 1..100 (absent or null = 20) after the item `after`; bad arguments are BAD_USER_INPUT.
// And the badge: the count of notifications not yet acknowledged.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, newUserId, token } from './support/client.ts';
import { acceptOffer, issueOffer } from './support/fixtures.ts';
import { ACKNOWLEDGE } from './support/notification-fixtures.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig as config } from './support/settings.ts';

// No worker: deployments stay QUEUED and notifications PENDING, so nothing moves under the pages.
const service = serviceForTests({ worker: false });

const db = new pg.Client({ connectionString: config.DATABASE_URL });
beforeAll(() => db.connect());
afterAll(() => db.end());

const OFFERS = /* GraphQL */ `
  query Offers($status: CreditOfferStatus, $first: Int, $after: ID) {
    me { offers(status: $status, first: $first, after: $after) { id status createdAt } }
  }
`;
const DEPLOYMENTS = /* GraphQL */ `
  query Deployments($first: Int, $after: ID) { me { deployments(first: $first, after: $after) { id queuedAt } } }
`;
const NOTIFICATIONS = /* GraphQL */ `
  query Notifications($unacknowledgedOnly: Boolean, $first: Int, $after: ID) {
    me { notifications(unacknowledgedOnly: $unacknowledgedOnly, first: $first, after: $after) { id status createdAt } }
  }
`;
const BADGE = /* GraphQL */ `query { me { unacknowledgedNotificationCount } }`;
const DECLINE = /* GraphQL */ `mutation D($offerId: ID!) { declineOffer(offerId: $offerId) { __typename } }`;

type List = 'offers' | 'deployments' | 'notifications';
const QUERIES: Record<List, string> = { offers: OFFERS, deployments: DEPLOYMENTS, notifications: NOTIFICATIONS };

interface Item {
  id: string;
  at: string;
}

async function page(list: List, userToken: string, variables: Record<string, unknown>) {
  const result = await gql(service.url, QUERIES[list], variables, userToken);
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return (result.data.me[list] as any[]).map((item) => ({ ...item, at: item.createdAt ?? item.queuedAt })) as (Item & any)[];
}

/** Reads a whole list page by page, as a client must. */
async function readAll(list: List, userToken: string, first: number, variables: Record<string, unknown> = {}) {
  const pages: Item[][] = [];
  let after: string | null = null;
  for (let i = 0; i < 50; i += 1) {
    const items = await page(list, userToken, { ...variables, first, after });
    pages.push(items);
    if (items.length < first) return pages;
    after = items.at(-1)!.id;
  }
  throw new Error('the list did not end');
}

/** The contract's order: time descending, then id descending (Postgres orders uuids as their hex text). */
function newestFirst(items: Item[]) {
  return [...items].sort((a, b) => (a.at === b.at ? (a.id < b.id ? 1 : -1) : a.at < b.at ? 1 : -1));
}

/** The error a client gets for a bad argument: one top-level error, no data. */
async function refusal(list: List, userToken: string, variables: Record<string, unknown>) {
  const result = await gql(service.url, QUERIES[list], variables, userToken);
  expect(result.data ?? null).toBeNull();
  expect(result.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  return result.errors![0]!.message;
}

async function newUser() {
  const userId = newUserId('pages');
  await db.query('INSERT INTO users (id) VALUES ($1)', [userId]);
  return { userId, userToken: await token(userId) };
}

/** Runs the inserts in one transaction: every row gets the same now(), a tie only the id breaks. */
async function inOneTransaction(insert: () => Promise<void>) {
  await db.query('BEGIN');
  try {
    await insert();
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK');
    throw error;
  }
}

async function insertOffers(userId: string, count: number, status = 'PENDING') {
  await inOneTransaction(async () => {
    for (let i = 0; i < count; i += 1) {
      await db.query(
        `INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, status, expires_at)
         VALUES (gen_random_uuid(), $1, 100000, 250, 'BRL', $2, now() + interval '1 hour')`,
        [userId, status],
      );
    }
  });
}

async function insertDeployments(userId: string, count: number) {
  await inOneTransaction(async () => {
    for (let i = 0; i < count; i += 1) {
      await db.query(
        `WITH o AS (
           INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, status, expires_at, accepted_at)
           VALUES (gen_random_uuid(), $1, 100000, 250, 'BRL', 'ACCEPTED', now() + interval '1 hour', now()) RETURNING id)
         INSERT INTO credit_deployments (id, offer_id, user_id, currency, new_limit_cents, correlation_id, status)
         SELECT gen_random_uuid(), o.id, $1, 'BRL', 100000, 'pages-test', 'DEPLOYED' FROM o`,
        [userId],
      );
    }
  });
}

async function insertNotifications(userId: string, count: number) {
  await inOneTransaction(async () => {
    for (let i = 0; i < count; i += 1) {
      await db.query(
        `INSERT INTO notifications (id, user_id, kind, title, body, deep_link, dedupe_key, correlation_id)
         VALUES (gen_random_uuid(), $1, 'OFFER_EXPIRED', 'Offer expired', 'Your offer expired.', 'app://credit/offers',
                 gen_random_uuid(), 'pages-test')`,
        [userId],
      );
    }
  });
}

describe('a list', () => {
  it('is newest first, items of one transaction ordered by id, and pages of `first` cover it exactly once', async () => {
    const { userId, userToken } = await newUser();
    for (let i = 0; i < 2; i += 1) await issueOffer(service.url, { userId });
    await insertOffers(userId, 5);
    for (let i = 0; i < 2; i += 1) await issueOffer(service.url, { userId });

    const whole = await page('offers', userToken, {});
    expect(whole).toHaveLength(9);
    expect(whole).toEqual(newestFirst(whole));
    // The five of one transaction share their time: only the id orders them.
    const tied = whole.filter((item) => whole.filter((other) => other.at === item.at).length > 1);
    expect(tied).toHaveLength(5);

    const pages = await readAll('offers', userToken, 2);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 2, 2, 1]);
    expect(pages.flat().map((item) => item.id)).toEqual(whole.map((item) => item.id));
  });

  it('of deployments is ordered by queuedAt, then id', async () => {
    const { userId, userToken } = await newUser();
    const { offerId } = await issueOffer(service.url, { userId });
    await acceptOffer(service.url, offerId, userToken);
    await insertDeployments(userId, 4);
    const newest = await issueOffer(service.url, { userId });
    const accepted = await acceptOffer(service.url, newest.offerId, userToken);

    const whole = await page('deployments', userToken, {});
    expect(whole).toHaveLength(6);
    expect(whole).toEqual(newestFirst(whole));
    expect(whole[0]!.id).toBe(accepted.deployment.id);
    const pages = await readAll('deployments', userToken, 4);
    expect(pages.map((p) => p.length)).toEqual([4, 2]);
    expect(pages.flat().map((item) => item.id)).toEqual(whole.map((item) => item.id));
  });

  it('of notifications is ordered by createdAt, then id', async () => {
    const { userId, userToken } = await newUser();
    await insertNotifications(userId, 3);
    await insertNotifications(userId, 3);

    const whole = await page('notifications', userToken, {});
    expect(whole).toHaveLength(6);
    expect(whole).toEqual(newestFirst(whole));
    expect(whole.filter((item) => item.at === whole[0]!.at).length).toBeGreaterThanOrEqual(3);
    const pages = await readAll('notifications', userToken, 3);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 0]);
    expect(pages.flat().map((item) => item.id)).toEqual(whole.map((item) => item.id));
  });
});

describe('first', () => {
  it('absent or null is 20, and up to 100 is served', async () => {
    const { userId, userToken } = await newUser();
    await insertOffers(userId, 30);
    expect(await page('offers', userToken, {})).toHaveLength(20);
    expect(await page('offers', userToken, { first: null })).toHaveLength(20);
    expect(await page('offers', userToken, { first: 1 })).toHaveLength(1);
    expect(await page('offers', userToken, { first: 100 })).toHaveLength(30);
  });

  it.each([0, -1, 101])('%i is BAD_USER_INPUT on every list', async (first) => {
    const { userToken } = await newUser();
    for (const list of ['offers', 'deployments', 'notifications'] as const) {
      expect(await refusal(list, userToken, { first })).toMatch(/first must be between 1 and 100/);
    }
  });
});

describe('after', () => {
  it('malformed, unknown, or of another user is BAD_USER_INPUT on every list', async () => {
    const { userToken } = await newUser();
    const other = await newUser();
    await insertOffers(other.userId, 1);
    await insertDeployments(other.userId, 1);
    await insertNotifications(other.userId, 1);
    for (const list of ['offers', 'deployments', 'notifications'] as const) {
      const [theirs] = await page(list, other.userToken, {});
      for (const after of ['not-an-id', '00000000-0000-4000-8000-000000000000', theirs!.id]) {
        expect(await refusal(list, userToken, { after })).toMatch(/after is not the id of an item of this list/);
      }
    }
  });

  it('of another list of the same user (an offer id given to deployments) is BAD_USER_INPUT', async () => {
    const { userId, userToken } = await newUser();
    await insertDeployments(userId, 1);
    const [offer] = await page('offers', userToken, {});
    await refusal('deployments', userToken, { after: offer!.id });
  });

  it('still marks its place when the item no longer matches the filter (offers by status)', async () => {
    const { userId, userToken } = await newUser();
    await insertOffers(userId, 6);
    const pending = await page('offers', userToken, { status: 'PENDING' });

    const first = await page('offers', userToken, { status: 'PENDING', first: 2 });
    expect(first.map((o) => o.id)).toEqual(pending.slice(0, 2).map((o) => o.id));
    const declined = await gql(service.url, DECLINE, { offerId: first[1]!.id }, userToken);
    expect(declined.data.declineOffer.__typename).toBe('DeclineOfferSuccess');

    const next = await page('offers', userToken, { status: 'PENDING', first: 2, after: first[1]!.id });
    expect(next.map((o) => o.id)).toEqual(pending.slice(2, 4).map((o) => o.id));
  });

  it('still marks its place when the item no longer matches the filter (unacknowledged notifications)', async () => {
    const { userId, userToken } = await newUser();
    await insertNotifications(userId, 5);
    const all = await page('notifications', userToken, { unacknowledgedOnly: true });
    expect(all).toHaveLength(5);

    const first = await page('notifications', userToken, { unacknowledgedOnly: true, first: 2 });
    const acknowledged = await gql(service.url, ACKNOWLEDGE, { id: first[1]!.id }, userToken);
    expect(acknowledged.data.acknowledgeNotification.__typename).toBe('AcknowledgeNotificationSuccess');

    const rest = await page('notifications', userToken, { unacknowledgedOnly: true, first: 10, after: first[1]!.id });
    expect(rest.map((n) => n.id)).toEqual(all.slice(2).map((n) => n.id));
    // The acknowledged one is gone from the filtered list, not from the whole one.
    const unacknowledged = await page('notifications', userToken, { unacknowledgedOnly: true });
    expect(unacknowledged.map((n) => n.id)).not.toContain(first[1]!.id);
    expect((await page('notifications', userToken, {})).map((n) => n.id)).toContain(first[1]!.id);
  });
});

describe('unacknowledgedNotificationCount', () => {
  it("counts the user's notifications not yet acknowledged; acknowledging lowers it, once", async () => {
    const { userId, userToken } = await newUser();
    const other = await newUser();
    const badge = async (userToken: string) => (await gql(service.url, BADGE, {}, userToken)).data.me.unacknowledgedNotificationCount;
    expect(await badge(userToken)).toBe(0);

    await insertNotifications(userId, 3);
    await insertNotifications(other.userId, 2);
    expect(await badge(userToken)).toBe(3);

    const [newest] = await page('notifications', userToken, { first: 1 });
    await gql(service.url, ACKNOWLEDGE, { id: newest!.id }, userToken);
    expect(await badge(userToken)).toBe(2);
    await gql(service.url, ACKNOWLEDGE, { id: newest!.id }, userToken);
    expect(await badge(userToken)).toBe(2);
    expect(await badge(other.userToken)).toBe(2);
  });
});
