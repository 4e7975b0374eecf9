// Every hot and periodic statement keeps its cost as the book grows: on a database holding a
// synthetic history (tens of thousands of rows, enough that the planner reads a table whole
// where no index serves a condition; no planner switch is touched), each statement the code
// sends, caught on the wire as it runs, is planned with an index: no sequential scan of a large
// table, no sort of a whole user's list. And the partial indexes are what makes it so: without
// one of them, the same statement reads its table whole.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHeavyUser, loadHistory, loadLiveWork, scaledHistory, type LiveWork } from '../bench/growth-history.ts';
import { acceptOffer } from '../src/domain/offers.ts';
import { lockDeployment, lockFreeRows } from '../src/domain/deployment-locks.ts';
import { expireDueOffers } from '../src/domain/offer-expiry.ts';
import { createOutboxPartitions } from '../src/domain/outbox-partitions.ts';
import { relayUnsentEvents } from '../src/events/outbox-publishing.ts';
import { eventStreamKey, eventStreamPublisher } from '../src/events/stream-publisher.ts';
import type { AfterCommit, Committed } from '../src/jobs/after-commit.ts';
import { closeQueue, createDeploymentQueue, createNotificationQueue } from '../src/jobs/queues.ts';
import { createDeploymentReconciler, createNotificationReconciler } from '../src/jobs/reconciler.ts';
import { createRetentionJob, type RetentionRun } from '../src/jobs/retention.ts';
import { deleteUnacceptedOffersBefore } from '../src/domain/retention.ts';
import { prisma } from '../src/platform/db.ts';
import { createLogger } from '../src/platform/logger.ts';
import { closeRedis, createRedis } from '../src/platform/redis.ts';
import { gql, token } from './support/client.ts';
import { badPlans, joinsOfItsOwnResults, planNodes, planOf, statementsOf, type PlanRules, type Statement } from './support/query-plans.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig as config, testRedis } from './support/settings.ts';

/** About 200,000 rows: a sequential scan is the planner's choice wherever no index serves. */
const HISTORY = scaledHistory(0.02);
/** The pages' and the badge's worst user: this many items of each kind. */
const HEAVY = 'growth-heavy';
const HEAVY_ITEMS = 2_000;
const LIVE: LiveWork = { dueOffers: 300, unfinishedDeployments: 40, unsentEvents: 60, openNotifications: 40 };

const service = serviceForTests({ worker: false });
const db = new pg.Client({ connectionString: config.DATABASE_URL });
const logger = createLogger('silent');
const queues = { redis: testRedis, prefix: config.REDIS_PREFIX };
const deploymentQueue = createDeploymentQueue(queues, { backoffMs: 100, maxBackoffMs: 100, retryHorizonMs: 3_600_000 });
const notificationQueue = createNotificationQueue(queues, { attempts: 1, backoffMs: 100 });
const redis = createRedis('publisher', testRedis);
let rules: PlanRules;

beforeAll(async () => {
  await db.connect();
  await loadHistory(db, HISTORY);
  await loadHeavyUser(db, HEAVY, HEAVY_ITEMS);
  await loadLiveWork(db, LIVE, HISTORY.users);
  await db.query('ANALYZE');
  const { rows } = await db.query<{ relname: string }>(
    `SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace AND reltuples >= 2000`,
  );
  rules = { largeTables: new Set(rows.map((r) => r.relname)), maxSortedRows: HEAVY_ITEMS / 2 };
}, 180_000);

afterAll(async () => {
  await Promise.all([closeQueue(deploymentQueue), closeQueue(notificationQueue), closeRedis(redis)]);
  await db.end();
});

/** The after-commit step's input, kept instead of acted on: only the statements are under test. */
function keepCommitted() {
  const committed: Committed[] = [];
  const afterCommit: AfterCommit = async (c) => void committed.push(c);
  return { committed, afterCommit };
}

/**
 * The pages a scan reads when run now (EXPLAIN ANALYZE): after a pass that marked the dead index
 * entries it met, any later scan skips them, a bitmap scan too.
 */
async function pagesRead(statement: Statement): Promise<number> {
  const { rows } = await db.query({ text: `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${statement.text}`, values: statement.values });
  const plan = (rows[0]['QUERY PLAN'] as { Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }[])[0]!.Plan;
  return plan['Shared Hit Blocks'] + plan['Shared Read Blocks'];
}

async function expectIndexedPlans(statements: Statement[]) {
  expect(statements.length).toBeGreaterThan(0);
  expect(await badPlans(db, statements, rules)).toEqual([]);
}

async function idAt(sql: string, position: number): Promise<string> {
  const { rows } = await db.query<{ id: string }>(`${sql} OFFSET $2 LIMIT 1`, [HEAVY, position]);
  return rows[0]!.id;
}

const LISTS = {
  offers: `query($first: Int, $after: ID, $status: CreditOfferStatus) { me { offers(first: $first, after: $after, status: $status) { id status } } }`,
  deployments: `query($first: Int, $after: ID) { me { deployments(first: $first, after: $after) { id status } } }`,
  notifications: `query($first: Int, $after: ID, $only: Boolean) { me { notifications(first: $first, after: $after, unacknowledgedOnly: $only) { id } } }`,
  creditHistory: `query($first: Int, $after: ID) { me { creditHistory(first: $first, after: $after) { id } } }`,
} as const;

async function page(list: keyof typeof LISTS, variables: Record<string, unknown>) {
  const result = await gql(service.url, LISTS[list], { first: 20, ...variables }, await token(HEAVY));
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  expect(result.data.me[list]).toHaveLength(20);
}

const deploymentReconciler = (afterCommit: AfterCommit) =>
  createDeploymentReconciler({ queue: deploymentQueue, afterCommit, logger, graceMs: 60_000, retryHorizonMs: 3_600_000 });

describe('the plans of the hot and periodic statements, on a database holding a history', () => {
  it('acceptOffer: reading the offer, recording the acceptance, superseding the user’s other offers', async () => {
    // An offer of a user with no due offer: the acceptance supersedes the user's other pending
    // offers, and the expiry sweep below counts every due one.
    const { rows } = await db.query<{ id: string; user_id: string }>(
      `SELECT id, user_id FROM credit_offers o WHERE status = 'PENDING' AND expires_at > now() AT TIME ZONE 'UTC' + interval '1 day'
          AND NOT EXISTS (SELECT 1 FROM credit_offers d WHERE d.user_id = o.user_id AND d.status = 'PENDING' AND d.expires_at <= now() AT TIME ZONE 'UTC')
        LIMIT 1`,
    );
    const offer = rows[0]!;
    let status = '';
    const statements = await statementsOf(async () => {
      const result = await acceptOffer({ userId: offer.user_id, roles: ['customer'], locale: 'en' }, offer.id, {
        correlationId: randomUUID(),
        ipAddress: '203.0.113.9',
        userAgent: 'plan test',
      }, { id: 'plan-test', secret: 'a-consent-key-for-the-plan-test-only' });
      status = 'status' in result ? String(result.status) : result.constructor.name;
    });
    expect(status).toBe('QUEUED');
    await expectIndexedPlans(statements);
  });

  it('the apply: locking deployments (one, and a batch with their profiles and earlier acceptances)', async () => {
    const { rows } = await db.query<{ id: string }>(
      `(SELECT id FROM credit_deployments WHERE status = 'QUEUED' LIMIT 3)
       UNION ALL (SELECT id FROM credit_deployments WHERE user_id = $1 LIMIT 1)`,
      [HEAVY],
    );
    const ids = rows.map((r) => r.id);
    let locked = 0;
    const statements = await statementsOf(() =>
      prisma.$transaction(async (tx) => {
        await lockDeployment(tx, ids[0]!);
        locked = (await lockFreeRows(tx, ids)).length;
      }),
    );
    expect(locked).toBe(ids.length);
    await expectIndexedPlans(statements);
  });

  it('User.offers, deployments, notifications and creditHistory: the first page and a page after a deep cursor', async () => {
    const deepOffer = await idAt(`SELECT id FROM credit_offers WHERE user_id = $1 ORDER BY created_at DESC, id DESC`, HEAVY_ITEMS - 100);
    const deepDeployment = await idAt(`SELECT id FROM credit_deployments WHERE user_id = $1 ORDER BY queued_at DESC, id DESC`, HEAVY_ITEMS - 100);
    const deepNotification = await idAt(`SELECT id FROM notifications WHERE user_id = $1 ORDER BY created_at DESC, id DESC`, HEAVY_ITEMS - 100);
    const deepChange = await idAt(`SELECT id FROM credit_line_changes WHERE user_id = $1 ORDER BY at DESC, id DESC`, HEAVY_ITEMS - 100);
    const statements = await statementsOf(async () => {
      await page('offers', {});
      await page('offers', { after: deepOffer });
      await page('offers', { after: deepOffer, status: 'DEPLOYED' });
      await page('deployments', {});
      await page('deployments', { after: deepDeployment });
      await page('notifications', {});
      await page('notifications', { after: deepNotification });
      await page('notifications', { after: deepNotification, only: true });
      await page('creditHistory', {});
      await page('creditHistory', { after: deepChange });
    });
    await expectIndexedPlans(statements);
  });

  it('the badge: the count of a user’s 2,000 unacknowledged notifications', async () => {
    let badge = 0;
    const statements = await statementsOf(async () => {
      const result = await gql(service.url, `{ me { unacknowledgedNotificationCount } }`, {}, await token(HEAVY));
      badge = result.data.me.unacknowledgedNotificationCount;
    });
    expect(badge).toBe(HEAVY_ITEMS);
    await expectIndexedPlans(statements);
  });

  it('the deployment reconciler’s scan for unfinished deployments', async () => {
    const { committed, afterCommit } = keepCommitted();
    const statements = await statementsOf(() => deploymentReconciler(afterCommit)());
    expect(committed.flatMap((c) => c.deploymentJobs ?? []).length).toBeGreaterThanOrEqual(LIVE.unfinishedDeployments);
    await expectIndexedPlans(statements);
  });

  it('the notification reconciler’s scan for open notifications', async () => {
    const { committed, afterCommit } = keepCommitted();
    const reconcile = createNotificationReconciler({ queue: notificationQueue, afterCommit, logger, graceMs: 60_000 });
    const statements = await statementsOf(() => reconcile());
    expect(committed.flatMap((c) => c.notificationJobs ?? [])).toHaveLength(LIVE.openNotifications);
    await expectIndexedPlans(statements);
  });

  it('the notification reconciler does not read again, pass after pass, the notifications delivered since the last VACUUM', async () => {
    // 4,000 notifications went PENDING -> DELIVERED with their push settled: each left its entry
    // in the index of PENDING notifications, dead until a VACUUM (none runs here; on a large table
    // autovacuum comes seldom). A pass that visited the table for each (a bitmap scan) read 738
    // pages every time; one that marks them dead as it meets them (a plain index scan) reads them once.
    const user = `${HEAVY}-delivered`;
    await db.query(`INSERT INTO users (id) VALUES ($1)`, [user]);
    await db.query(
      `INSERT INTO notifications (id, user_id, kind, status, title, body, deep_link, dedupe_key, correlation_id, created_at)
       SELECT gen_random_uuid(), $1, 'OFFER_EXPIRED', 'PENDING', 'Sua oferta de crédito expirou', 'A oferta expirou.', 'creditapp://offers',
              gen_random_uuid(), gen_random_uuid()::text, now() AT TIME ZONE 'UTC' - interval '10 minutes'
         FROM generate_series(1, 4000)`,
      [user],
    );
    await db.query(`UPDATE notifications SET status = 'DELIVERED', push_settled_at = now() AT TIME ZONE 'UTC' WHERE user_id = $1`, [user]);
    const { afterCommit } = keepCommitted();
    const reconcile = createNotificationReconciler({ queue: notificationQueue, afterCommit, logger, graceMs: 60_000 });
    await reconcile();
    const scans = (await statementsOf(() => reconcile())).filter((s) => /FROM notifications/.test(s.text));
    expect(scans).toHaveLength(1);
    // The open notifications of the seed (40) and the index: 67 pages read; with a bitmap scan, 738.
    expect(await pagesRead(scans[0]!)).toBeLessThan(200);
  });

  it('the deployment reconciler does not read again, pass after pass, the deployments applied since the last VACUUM', async () => {
    // As the notifications above: 4,000 deployments went QUEUED -> DEPLOYED, each leaving its
    // entry in the index of unfinished deployments the reconciler scans, dead until a VACUUM.
    const user = `${HEAVY}-applied`;
    await db.query(`INSERT INTO users (id) VALUES ($1)`, [user]);
    await db.query(
      `WITH o AS (
         INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, status, expires_at, created_at, accepted_at)
         SELECT gen_random_uuid(), $1, 100000, 300, 'BRL', 'ACCEPTED', now() + interval '1 day', now() - interval '1 hour', now() - interval '10 minutes'
           FROM generate_series(1, 4000)
         RETURNING id, accepted_at)
       INSERT INTO credit_deployments (id, offer_id, user_id, status, currency, new_limit_cents, correlation_id, last_sequence, queued_at)
       SELECT gen_random_uuid(), id, $1, 'QUEUED', 'BRL', 100000, gen_random_uuid()::text, 1, accepted_at FROM o`,
      [user],
    );
    await db.query(`UPDATE credit_deployments SET status = 'DEPLOYED', completed_at = now() WHERE user_id = $1`, [user]);
    const { afterCommit } = keepCommitted();
    await deploymentReconciler(afterCommit)();
    const scans = (await statementsOf(() => deploymentReconciler(afterCommit)())).filter((s) => /FROM credit_deployments/.test(s.text));
    expect(scans).toHaveLength(1);
    // The open deployments of the seed (40) and the index: 30 pages read; with a bitmap scan, 120.
    expect(await pagesRead(scans[0]!)).toBeLessThan(75);
  });

  it('the expiry sweep: the due offers among the history, expired with their notifications and events', async () => {
    let expired = 0;
    const statements = await statementsOf(async () => {
      expired = await expireDueOffers(async () => {}, { batchSize: 100, pauseMs: 0 });
    });
    expect(expired).toBe(LIVE.dueOffers);
    // The sweep also locks its batch's users (in id order). This seed holds 4,000 users, and for
    // a few hundred of them the planner reads the users table whole: cheaper at that size. The
    // rule for users is the book's size, which this test does not load (the growth bench does).
    expect(statements.length).toBeGreaterThan(0);
    expect(await badPlans(db, statements, { ...rules, largeTables: new Set([...rules.largeTables].filter((t) => t !== 'users')) })).toEqual([]);
    // The expiring statement joins nothing it made itself: its join of the expired offers to the
    // users' updated sequences was estimated at 1 by 1 row (the planner's guess for an `unnest`,
    // times the few PENDING among a book's offers) and run on a loaded book as a nested loop that
    // read one again for every row of the other (500 x 500 per batch, 27 of the statement's 70 ms).
    const expiring = statements.filter((st) => /UPDATE credit_offers o SET status = 'EXPIRED'/.test(st.text));
    expect(expiring.length).toBeGreaterThan(0);
    for (const statement of expiring) expect(joinsOfItsOwnResults(await planOf(db, statement))).toEqual([]);
  });

  it('the outbox relay: the unsent events among the sent ones', async () => {
    const publisher = eventStreamPublisher(redis, { key: eventStreamKey(config.REDIS_PREFIX), maxLength: 10_000 });
    let published = 0;
    const statements = await statementsOf(async () => {
      published = await relayUnsentEvents(publisher, { users: 1_000, events: 1_000 });
    });
    expect(published).toBeGreaterThanOrEqual(LIVE.unsentEvents);
    await expectIndexedPlans(statements);
    // The events' days bound the mark: only their partitions are planned, not every day's (about
    // 400 at the retention period; here the days made ahead and the default one).
    const { rows: partitions } = await db.query(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'outbox_events'::regclass`);
    expect(partitions[0].n).toBeGreaterThanOrEqual(5);
    const marks = statements.filter((st) => /^\s*UPDATE outbox_events/.test(st.text));
    expect(marks.length).toBeGreaterThan(0);
    for (const mark of marks) {
      const planned = new Set([...planNodes(await planOf(db, mark))].flatMap((n) => n['Relation Name'] ?? []));
      expect([...planned].filter((name) => name.startsWith('outbox_events_')).length).toBeLessThanOrEqual(2);
    }
  });

  it("the outbox relay's pass reads as many unsent events as it publishes, not a campaign's whole backlog", async () => {
    const BACKLOG = 5_000;
    const batch = { users: 100, events: 500 };
    await db.query(
      `INSERT INTO outbox_events (id, user_id, sequence, type, occurred_at, payload)
       SELECT gen_random_uuid(), 'backlog-' || i, 1, 'offer.expired', (now() AT TIME ZONE 'UTC') - interval '1 second', '{}'::jsonb
         FROM generate_series(1, $1) i`,
      [BACKLOG],
    );
    await db.query('ANALYZE outbox_events');
    const publisher = eventStreamPublisher(redis, { key: eventStreamKey(config.REDIS_PREFIX), maxLength: 10_000 });
    try {
      let published = 0;
      const statements = await statementsOf(async () => {
        published = await relayUnsentEvents(publisher, batch);
      });
      expect(published).toBeGreaterThan(0);
      expect(published).toBeLessThanOrEqual(batch.users);
      const [claim] = statements.filter((st) => /pg_try_advisory_xact_lock/.test(st.text));
      // Run (in a transaction rolled back): the rows it read from the outbox's partitions.
      await db.query('BEGIN');
      try {
        const { rows } = await db.query({ text: `EXPLAIN (ANALYZE, FORMAT JSON) ${claim!.text}`, values: claim!.values });
        const read = [...planNodes((rows[0]['QUERY PLAN'] as { Plan: AnalyzedNode }[])[0]!.Plan)]
          .filter((node) => node['Relation Name']?.startsWith('outbox_events'))
          .reduce((sum, node) => sum + node['Actual Rows'] * (node['Actual Loops'] ?? 1), 0);
        expect(read).toBeGreaterThan(0);
        // A pass's events, and the one row each partition's scan reads ahead (the merge of the partitions).
        const { rows: partitions } = await db.query(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'outbox_events'::regclass`);
        expect(read).toBeLessThanOrEqual(batch.events + partitions[0].n);
      } finally {
        await db.query('ROLLBACK');
      }
    } finally {
      await db.query(`UPDATE outbox_events SET sent_at = now() AT TIME ZONE 'UTC' WHERE user_id LIKE 'backlog-%' AND sent_at IS NULL`);
    }
  });

  it('fails without a partial index: dropped (in a transaction rolled back), the expiry sweep reads every pending offer or the whole table', async () => {
    // A sweep as of ten days ago: nothing is due then, so it changes nothing; its statement is the same.
    const statements = await statementsOf(() => expireDueOffers(async () => {}, { batchSize: 100, pauseMs: 0 }, new Date(Date.now() - 10 * 86_400_000)));
    const search = statements.filter((s) => /credit_offers\s+WHERE status = 'PENDING' AND expires_at <=/.test(s.text));
    expect(search).toHaveLength(1);
    const withoutUsers = { ...rules, largeTables: new Set([...rules.largeTables].filter((t) => t !== 'users')) };
    expect(await badPlans(db, search, withoutUsers)).toEqual([]);
    await db.query('BEGIN');
    try {
      await db.query('DROP INDEX credit_offers_pending_expires_at_idx');
      // The planner reads credit_offers whole, or every PENDING offer (through the users' pending
      // index) and sorts them all by expiry: either is a sweep that grows with the book.
      const problems = (await badPlans(db, search, withoutUsers)).flatMap((b) => b.problems);
      expect(problems.length).toBeGreaterThan(0);
      for (const problem of problems) expect(problem).toMatch(/^(Seq Scan on credit_offers|Sort of \d+ rows)$/);
    } finally {
      await db.query('ROLLBACK');
    }
  });
  // Last: it deletes part of the history the tests above read.
  it('the retention job: partitions made ahead (taking rows out of the default one), sent days dropped, notifications, offers never accepted, trails and credit-line history past their periods deleted', async () => {
    // As the job runs every interval: each cutoff falls a day past the oldest row it trims.
    const { rows } = await db.query<{ notifications: Date; trails: Date; events: Date }>(
      `SELECT (SELECT min(created_at) FROM notifications) AS notifications,
              (SELECT min(completed_at) FROM credit_deployments WHERE status IN ('DEPLOYED', 'FAILED')) AS trails,
              (SELECT min(sent_at) FROM outbox_events) AS events`,
    );
    const oldest = rows[0]!;
    const day = 86_400_000;
    const now = new Date(oldest.notifications.getTime() + 181 * day);
    const daysBefore = (at: Date) => (now.getTime() - at.getTime()) / day - 1;
    // A sent day of the history in a partition of its own (made as the worker makes them), for the job to drop.
    const [sentDay] = await createOutboxPartitions(oldest.events, 0);
    await db.query('ANALYZE');
    let run: RetentionRun | undefined;
    const job = createRetentionJob({
      logger,
      settings: {
        intervalMs: 60_000,
        eventsRetentionDays: daysBefore(oldest.events) - 1, // that day, and the next in the default partition
        notificationRetentionDays: 180,
        regulatoryRetentionDays: daysBefore(oldest.trails),
        partitionDaysAhead: 2,
      },
    });
    const statements = await statementsOf(async () => {
      run = await job(now);
    });
    expect(run!.partitionsCreated).toHaveLength(3);
    expect(run!.partitionsDropped).toContain(sentDay);
    expect(run!.eventsDeleted).toBeGreaterThan(0);
    expect(run!.notificationsDeleted).toBeGreaterThan(0);
    expect(run!.deploymentTrailsDeleted).toBeGreaterThan(0);
    expect(run!.creditLineChangesDeleted).toBeGreaterThan(0);
    // The dropped day's own check is planned on a day still there: the same statement.
    const kept = run!.partitionsCreated[0]!;
    const planned = statements.map((s) => ({ ...s, text: s.text.replaceAll(sentDay!, kept) }));
    await expectIndexedPlans(planned);

    // The history's offers expired 335 days ago at the earliest, after the cutoff above: the same
    // statement 200 days back deletes thousands of the declined and superseded ones (the expired
    // ones keep their notifications), found by expiry among the accepted ones.
    let offersDeleted = 0;
    const offerStatements = await statementsOf(async () => {
      offersDeleted = await deleteUnacceptedOffersBefore(new Date(Date.now() - 200 * day));
    });
    expect(offersDeleted).toBeGreaterThan(1_000);
    await expectIndexedPlans(offerStatements);
  });
});

interface AnalyzedNode {
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops'?: number;
  Plans?: AnalyzedNode[];
}
