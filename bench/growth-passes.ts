// One pass of each periodic job of the growth bench (bench/growth.ts), timed on one database, in
// a process of its own: the service's database client is one per process, and the bench measures
// the empty and the loaded database by turns. `measurePassesIn` starts this file as a child with
// the database and the work's users in its environment; the child prints its figures as JSON.
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { expireDueOffers } from '../src/domain/offer-expiry.ts';
import { readUnsentFloor } from '../src/domain/outbox.ts';
import { relayUnsentEvents } from '../src/events/outbox-publishing.ts';
import { eventStreamKey, eventStreamPublisher } from '../src/events/stream-publisher.ts';
import type { AfterCommit } from '../src/jobs/after-commit.ts';
import { closeQueue, createDeploymentQueue, createNotificationQueue } from '../src/jobs/queues.ts';
import { createDeploymentReconciler, createNotificationReconciler } from '../src/jobs/reconciler.ts';
import { loadConfig } from '../src/platform/config.ts';
import { connectDatabase, prisma } from '../src/platform/db.ts';
import { createLogger } from '../src/platform/logger.ts';
import { closeRedis, createRedis } from '../src/platform/redis.ts';
import { databaseSettings, redisSettings } from '../src/settings.ts';
import { root } from './children.ts';
import { loadDueOffers, loadLiveWork, loadUnsentEvents } from './growth-history.ts';
import { median, since } from './stats.ts';

const config = loadConfig();
const logger = createLogger('silent');

const DUE_OFFERS = 10_000;
const UNSENT_EVENTS = 1_000;
/** Timed passes of each reconciler (the median is the figure). */
const RECONCILER_PASSES = 5;

/** The users the periodic jobs' work belongs to. */
export interface WorkUsers {
  prefix: string;
  count: number;
}

const log = (message: string) => console.error(`[growth passes] ${message}`);

export interface Passes {
  deploymentReconcilerMs: number;
  notificationReconcilerMs: number;
  outboxRelayMs: number;
  published: number;
  expirySweepMs: number;
  expired: number;
}

/** One pass of each periodic job, timed, with nothing else running against the database. */
async function measurePasses(db: pg.Pool, workUsers: WorkUsers, prefix: string): Promise<Passes> {
  const client = await db.connect();
  try {
    await loadLiveWork(client as unknown as pg.Client, { dueOffers: DUE_OFFERS, unfinishedDeployments: 50, unsentEvents: UNSENT_EVENTS, openNotifications: 50 }, workUsers.count, workUsers.prefix);
  } finally {
    client.release();
  }
  await db.query('ANALYZE');
  const queues = { redis: redisSettings(config, logger), prefix };
  const deploymentQueue = createDeploymentQueue(queues, { backoffMs: 100, maxBackoffMs: 1_000, retryHorizonMs: 3_600_000 });
  const notificationQueue = createNotificationQueue(queues, { attempts: 1, backoffMs: 100 });
  const redis = createRedis('publisher', redisSettings(config, logger));
  // The reconcilers' finds are left for the worker's own reconciler: only the pass is timed here.
  const keep: AfterCommit = async () => {};
  const timed = async <T>(fn: () => Promise<T>): Promise<[number, T]> => {
    const start = performance.now();
    const result = await fn();
    return [Math.round(since(start) * 100) / 100, result];
  };
  // A periodic job's pass: one untimed pass over the work already loaded, then three over fresh
  // work loaded before each (`round` 1..3); the median's time and result.
  const medianOfThreePasses = async <T>(load: (loader: pg.Client, round: number) => Promise<void>, pass: () => Promise<T>): Promise<[number, T]> => {
    await pass();
    const rounds: [number, T][] = [];
    for (let round = 1; round <= 3; round += 1) {
      const loader = await db.connect();
      try {
        await load(loader as unknown as pg.Client, round);
      } finally {
        loader.release();
      }
      rounds.push(await timed(pass));
    }
    log(`  passes of ${rounds.length}: ${rounds.map(([ms]) => ms).join(', ')} ms`);
    return rounds.sort((a, b) => a[0] - b[0])[1]!;
  };
  try {
    const reconcileDeployments = createDeploymentReconciler({ queue: deploymentQueue, afterCommit: keep, logger, graceMs: 60_000, retryHorizonMs: 3_600_000 });
    const reconcileNotifications = createNotificationReconciler({ queue: notificationQueue, afterCommit: keep, logger, graceMs: 60_000 });
    // A first pass of each reconciler, untimed, opens the connections. They change nothing here
    // (their finds go to `keep`), so each is then timed five times over the same work, alternating,
    // and the median kept: a single pass of 5 to 30 ms moved by 2x between runs of the same code
    // (2026-12-07 23:41 and 23:49), a single sample's noise, not the book's.
    await reconcileDeployments();
    await reconcileNotifications();
    const deploymentPasses: number[] = [];
    const notificationPasses: number[] = [];
    for (let i = 0; i < RECONCILER_PASSES; i += 1) {
      deploymentPasses.push((await timed(() => reconcileDeployments()))[0]);
      notificationPasses.push((await timed(() => reconcileNotifications()))[0]);
    }
    const deploymentReconcilerMs = median(deploymentPasses);
    const notificationReconcilerMs = median(notificationPasses);
    const publisher = eventStreamPublisher(redis, { key: eventStreamKey(prefix), maxLength: 100_000 });
    // As the worker's relay does: its passes read the days from the floor its housekeeping read
    // (once a minute there; here after each load, untimed).
    let { floor } = await readUnsentFloor();
    const relayAll = async () => {
      let total = 0;
      for (let n = -1; n !== 0; total += n) n = await relayUnsentEvents(publisher, { users: 100, events: 1_000 }, floor);
      return total;
    };
    // The first pass after the load is untimed, as the reconcilers' are: on a database just
    // loaded and vacuumed it took twice as long as the next (a cold cache, the first plans; 336
    // against 123 ms). Then the median of three passes, each over fresh events.
    const [outboxRelayMs, published] = await medianOfThreePasses(
      async (loader, round) => {
        await loadUnsentEvents(loader, UNSENT_EVENTS, workUsers.count, workUsers.prefix, round);
        ({ floor } = await readUnsentFloor());
      },
      relayAll,
    );
    // The sweep's own work, without the pauses between its batches that leave room for deployments,
    // timed as the relay's (one timed pass, until 2026-12-07, gave 1.2 to 2.1 s in runs of the same
    // code on the same book).
    const [expirySweepMs, expired] = await medianOfThreePasses(
      (loader) => loadDueOffers(loader, DUE_OFFERS, workUsers.count, workUsers.prefix),
      () => expireDueOffers(async () => {}, { batchSize: config.OFFER_EXPIRY_BATCH_SIZE, pauseMs: 0 }),
    );
    // What the sweep wrote is settled here, so the service measured next does not work it off
    // meanwhile; and the deployments the reconciler found, so the next measurePasses on this
    // database finds only its own (a reconciler pass over 100 against 50: 2026-12-08 00:28).
    await db.query(
      `UPDATE credit_deployments SET status = 'FAILED', failure_code = 'RETRIES_EXHAUSTED',
              failure_reason = 'settled by the growth bench after its passes', completed_at = now() AT TIME ZONE 'UTC'
        WHERE status IN ('QUEUED', 'PROCESSING', 'RETRYING') AND user_id LIKE $1`,
      [`${workUsers.prefix}%`],
    );
    await db.query(`UPDATE outbox_events SET sent_at = now() AT TIME ZONE 'UTC' WHERE sent_at IS NULL`);
    await db.query(
      `UPDATE notifications SET status = 'DELIVERED', push_settled_at = now() AT TIME ZONE 'UTC' WHERE status = 'PENDING' OR push_settled_at IS NULL`,
    );
    return { deploymentReconcilerMs, notificationReconcilerMs, outboxRelayMs, published, expirySweepMs, expired };
  } finally {
    await Promise.all([closeQueue(deploymentQueue), closeQueue(notificationQueue), closeRedis(redis)]);
  }
}

/** The passes on the database at `databaseUrl`, measured by a child process; its log lines go to this one's stderr. */
export async function measurePassesIn(databaseUrl: string, redisPrefix: string, work: WorkUsers): Promise<Passes> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: databaseUrl, GROWTH_REDIS_PREFIX: redisPrefix, GROWTH_WORK_PREFIX: work.prefix, GROWTH_WORK_USERS: String(work.count) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => child.on('error', reject).on('exit', resolve));
  if (code !== 0) throw new Error(`the passes' process exited with ${code}`);
  return JSON.parse(output.trim().split('\n').at(-1)!) as Passes;
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const databaseUrl = process.env.DATABASE_URL!;
  connectDatabase(databaseSettings({ ...config, DATABASE_URL: databaseUrl }));
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    const work = { prefix: process.env.GROWTH_WORK_PREFIX!, count: Number(process.env.GROWTH_WORK_USERS) };
    console.log(JSON.stringify(await measurePasses(db, work, process.env.GROWTH_REDIS_PREFIX!)));
  } finally {
    await prisma.$disconnect();
    await db.end();
  }
}
