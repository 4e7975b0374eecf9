// `npm run bench -- --growth [--growth-scale=F] [--growth-journeys=N] [--growth-rounds=N] [--keep-db]`:
// whether the service keeps its speed as the credit book grows. Two databases in the same run: one
// empty (only the measured users in it), one into which a synthetic year is loaded set-based
// (bench/growth-history.ts; 10 million rows at scale 1) and VACUUM ANALYZEd. Measured on both:
// accept and accept -> DEPLOYED at one user and the pages and the badge of a user with 2,000
// items of each kind (in rounds, the two databases by turns, the median of the rounds kept); one
// pass of each periodic job (the reconcilers, the expiry sweep over 10,000 due offers, the outbox
// relay over 1,000 unsent events; in a process per database, bench/growth-passes.ts, by turns);
// the one-worker drain of 2,000 (by turns), and the bytes on disk each drained deployment added.
// Targets (the loaded figures against the empty ones) in the JSON.
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createOutboxPartitions } from '../src/domain/outbox-partitions.ts';
import { loadConfig } from '../src/platform/config.ts';
import { connectDatabase, prisma } from '../src/platform/db.ts';
import { databaseSettings } from '../src/settings.ts';
import { tokenSigner } from '../src/api/auth.ts';
import { userWithId, type User } from './api-client.ts';
import { buildProduction, killAllServices, startService, type ServiceProcess } from './children.ts';
import { createBenchDatabase, dropBenchDatabase } from './database.ts';
import { EDGE_SETTINGS_FOR_BENCH } from './edge-limits.ts';
import { loadHeavyUser, loadHistory, scaledHistory, USER_PREFIX, type HistorySize } from './growth-history.ts';
import { measurePassesIn, type Passes } from './growth-passes.ts';
import { runJourneys } from './journeys.ts';
import { describeMachine } from './machine.ts';
import { removeRedisKeys } from './redis-keys.ts';
import { growthPer, relationSizes, updateCounts } from './relation-sizes.ts';
import { medianSummary, since, summarize, type LatencySummary } from './stats.ts';
import { buildBacklog, drainBacklog } from './throughput.ts';

const config = loadConfig();
const RESULTS = new URL('./results/', import.meta.url);

const HEAVY_USER = 'growth-heavy';
const HEAVY_ITEMS = 2_000;
const DRAIN = 2_000;
/** Days back the outbox gets a partition for: the history's events fall within the last 365. */
const HISTORY_DAYS = 400;
const PAGE_SAMPLES = 100;
const WORKER_CONCURRENCY = 16;

export interface GrowthOptions {
  scale: number;
  journeys: number;
  keepDatabase: boolean;
  /** Only the bytes: load, then the drain of 2,000 and where its bytes went (no latencies, no empty phase). */
  bytesOnly: boolean;
  /** Rounds of the services' latencies (journeys, pages), alternating between the two databases. */
  rounds: number;
}

export function parseGrowthOptions(argv: string[]): GrowthOptions {
  const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const scale = Number(value('growth-scale') ?? 1);
  const journeys = Number(value('growth-journeys') ?? 200);
  const rounds = Number(value('growth-rounds') ?? 5);
  if (!(scale > 0)) throw new Error(`--growth-scale must be a positive number, got ${value('growth-scale')}`);
  if (!Number.isInteger(journeys) || journeys < 20) throw new Error(`--growth-journeys must be a whole number >= 20, got ${journeys}`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--growth-rounds must be a whole number >= 1, got ${value('growth-rounds')}`);
  const unknown = argv.filter((a) => !/^--(growth|growth-scale=.*|growth-journeys=.*|growth-rounds=.*|growth-bytes-only|keep-db)$/.test(a));
  if (unknown.length > 0) throw new Error(`unknown with --growth: ${unknown.join(' ')}`);
  return { scale, journeys, rounds, keepDatabase: argv.includes('--keep-db'), bytesOnly: argv.includes('--growth-bytes-only') };
}



interface PhaseFigures {
  /** Rows in all tables when the phase was measured. */
  rows: number;
  bytes: number;
  acceptMs: LatencySummary;
  acceptToDeployedMs: LatencySummary;
  pages: Record<string, LatencySummary>;
  passes: Passes;
  drain: { deployments: number; seconds: number; deploymentsPerSecond: number };
  /** Growth of all tables and indexes over the drain, divided by the deployments drained. */
  bytesPerDeployment: number;
  /** The same, table by table (heap and TOAST; partitions under their table; tables that did not grow left out). */
  bytesPerDeploymentByTable: Record<string, number>;
  /** The same, index by index (`table.index`). */
  bytesPerDeploymentByIndex: Record<string, number>;
  /** The drain's updates by table, and how many of them were HOT (wrote no index entry). */
  drainUpdates: Record<string, { updates: number; hot: number }>;
}

const log = (() => {
  const start = Date.now();
  return (message: string) => console.error(`[growth +${Math.round((Date.now() - start) / 1000)}s] ${message}`);
})();

async function tableTotals(db: pg.Pool): Promise<{ rows: number; bytes: number }> {
  const { rows } = await db.query(
    `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint::text AS bytes, coalesce(sum(s.n_live_tup), 0)::bigint::text AS rows
       FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
      WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace`,
  );
  return { rows: Number(rows[0].rows), bytes: Number(rows[0].bytes) };
}

/** The heavy user's lists, first page and after a deep cursor, and the badge: PAGE_SAMPLES requests each. */
async function measurePages(db: pg.Pool, url: string): Promise<Record<string, LatencySummary>> {
  const token = await tokenSigner(config.JWT_SECRET)(HEAVY_USER);
  const deep = async (table: string, time: string) =>
    (await db.query(`SELECT id FROM ${table} WHERE user_id = $1 ORDER BY ${time} DESC, id DESC OFFSET ${HEAVY_ITEMS - 100} LIMIT 1`, [HEAVY_USER]))
      .rows[0].id as string;
  const cursors = {
    offers: await deep('credit_offers', 'created_at'),
    deployments: await deep('credit_deployments', 'queued_at'),
    notifications: await deep('notifications', 'created_at'),
  };
  const queries: Record<string, [string, Record<string, unknown>]> = {};
  for (const [list, after] of Object.entries(cursors)) {
    const document = `query($after: ID) { me { ${list}(first: 20, after: $after) { id } } }`;
    queries[`${list}.first`] = [document, {}];
    queries[`${list}.deep`] = [document, { after }];
  }
  queries.badge = [`{ me { unacknowledgedNotificationCount } }`, {}];
  const figures: Record<string, LatencySummary> = {};
  for (const [name, [query, variables]] of Object.entries(queries)) {
    const samples: number[] = [];
    for (let i = 0; i < PAGE_SAMPLES + 10; i++) {
      const start = performance.now();
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { errors?: unknown };
      if (body.errors) throw new Error(`${name}: ${JSON.stringify(body.errors)}`);
      if (i >= 10) samples.push(since(start)); // the first ten warm the path up
    }
    figures[name] = summarize(samples);
  }
  return figures;
}

/**
 * A backlog (DRAIN, or `users` deployments, one per user it gives), drained by one worker: its rate,
 * and the bytes on disk it added, relation by relation.
 */
async function measureDrainBytes(db: pg.Pool, url: string, env: Record<string, string>, logFile: (role: string) => string, phase: string,
                                 users?: { count: number; userFor: (i: number) => Promise<User>; limitCents?: number }) {
  const size = users?.count ?? DRAIN;
  log(`${phase}: backlog of ${size}, drained by one worker`);
  // Measured from before the backlog: a deployment's bytes include what its issue and accept wrote.
  const before = await tableTotals(db);
  const sizesBefore = await relationSizes(db);
  const updatesBefore = await updateCounts(db);
  const backlog = await buildBacklog(url, size, 16, users?.userFor, users?.limitCents);
  const drained = await drainBacklog(db, backlog, async () => {
    const w = await startService('worker', env, logFile('drain-worker'));
    return { label: '1 worker', workers: 1, redis: 'single', pids: async () => [w.pid], stop: w.stop };
  }, WORKER_CONCURRENCY);
  const after = await tableTotals(db);
  const growth = growthPer(sizesBefore, await relationSizes(db), size);
  // The API reports its statistics when idle, within 10 s (the worker did on exit).
  await new Promise((resolve) => setTimeout(resolve, 11_000));
  const updatesAfter = await updateCounts(db);
  const drainUpdates = Object.fromEntries(
    Object.entries(updatesAfter)
      .map(([table, n]) => [table, { updates: n.updates - (updatesBefore[table]?.updates ?? 0), hot: n.hot - (updatesBefore[table]?.hot ?? 0) }] as const)
      .filter(([, n]) => n.updates > 0),
  );
  const byTable = Object.fromEntries(Object.entries(growth).filter(([name]) => !name.includes('.')));
  const byIndex = Object.fromEntries(Object.entries(growth).filter(([name]) => name.includes('.')));
  const bytesPerDeployment = Math.round((after.bytes - before.bytes) / size);
  log(`${phase}: drain ${drained.deploymentsPerSecond}/s, ${bytesPerDeployment} bytes per deployment: ${JSON.stringify(byTable)}`);
  log(`${phase}: by index ${JSON.stringify(byIndex)}`);
  log(`${phase}: the drain's updates (HOT of all) ${JSON.stringify(Object.fromEntries(Object.entries(drainUpdates).map(([t, n]) => [t, `${n.hot}/${n.updates}`])))}`);
  return {
    drain: { deployments: drained.deployments, seconds: drained.seconds, deploymentsPerSecond: drained.deploymentsPerSecond },
    bytesPerDeployment,
    bytesPerDeploymentByTable: byTable,
    bytesPerDeploymentByIndex: byIndex,
    drainUpdates,
  };
}

/** What the services answer on one database in one round: journeys at one user, the heavy user's pages and badge. */
interface ServiceFigures {
  acceptMs: LatencySummary;
  acceptToDeployedMs: LatencySummary;
  pages: Record<string, LatencySummary>;
}

const logFileFor = (phase: string) => (role: string) =>
  fileURLToPath(new URL(`growth-${Date.now()}-${phase.replace(/[^a-z0-9]+/gi, '-')}-${role}.log`, RESULTS));

/** One round on one database: an API and a worker of the build started for it, and stopped after. */
async function measureServices(db: pg.Pool, env: Record<string, string>, options: GrowthOptions, phase: string): Promise<ServiceFigures> {
  const logFile = logFileFor(phase);
  const api = await startService('api', env, logFile('api'));
  let worker: ServiceProcess | null = null;
  try {
    worker = await startService('worker', env, logFile('worker'));
    const url = api.url!;
    log(`${phase}: journeys at one user (${options.journeys}, after 20 of warm-up)`);
    await runJourneys(url, 1, 20);
    const journeys = await runJourneys(url, 1, options.journeys);
    log(`${phase}: accept p50 ${journeys.acceptMs.p50} ms, accept -> DEPLOYED p50 ${journeys.acceptToDeployedMs.p50} ms`);
    log(`${phase}: pages and badge of a user with ${HEAVY_ITEMS} items of each kind`);
    const pages = await measurePages(db, url);
    log(`${phase}: pages p50 ${JSON.stringify(Object.fromEntries(Object.entries(pages).map(([k, v]) => [k, v.p50])))}`);
    return { acceptMs: journeys.acceptMs, acceptToDeployedMs: journeys.acceptToDeployedMs, pages };
  } finally {
    await worker?.stop();
    await api.stop();
  }
}

/** A database's rounds as one figure each: the median of the rounds' p50s, of their p99s, and so on. */
function combineRounds(rounds: ServiceFigures[]): ServiceFigures {
  return {
    acceptMs: medianSummary(rounds.map((r) => r.acceptMs)),
    acceptToDeployedMs: medianSummary(rounds.map((r) => r.acceptToDeployedMs)),
    pages: Object.fromEntries(Object.keys(rounds[0]!.pages).map((name) => [name, medianSummary(rounds.map((r) => r.pages[name]!))])),
  };
}

/** A database's passes as one figure each: the mean of its rounds' (two, by turns with the other database's). */
function meanOfPasses(rounds: Passes[]): Passes {
  const mean = (key: keyof Passes) => Math.round((rounds.reduce((sum, p) => sum + p[key], 0) / rounds.length) * 100) / 100;
  return Object.fromEntries(Object.keys(rounds[0]!).map((key) => [key, mean(key as keyof Passes)])) as unknown as Passes;
}

/** A database's drains as one: the first's bytes, with the rate the mean of all. */
function meanOfDrains<D extends { drain: { deployments: number; seconds: number; deploymentsPerSecond: number } }>(drains: D[]): D {
  const rate = drains.reduce((sum, d) => sum + d.drain.deploymentsPerSecond, 0) / drains.length;
  return { ...drains[0]!, drain: { ...drains[0]!.drain, deploymentsPerSecond: Math.round(rate * 10) / 10 } };
}

/** The one-worker drain on one database, with an API of its own for the backlog. */
async function measureDrain(db: pg.Pool, env: Record<string, string>, phase: string) {
  const logFile = logFileFor(phase);
  const api = await startService('api', env, logFile('api'));
  try {
    return await measureDrainBytes(db, api.url!, env, logFile, phase);
  } finally {
    await api.stop();
  }
}

export interface GrowthTarget {
  name: string;
  empty: number;
  loaded: number;
  target: string;
  met: boolean;
}

/** Within 20 % of the empty figure, or within 1 ms where the empty one is under 5 ms. */
function latencyTarget(name: string, empty: number, loaded: number): GrowthTarget {
  const small = empty < 5;
  const met = small ? loaded <= empty + 1 : loaded <= empty * 1.2;
  return { name, empty, loaded, target: small ? '<= empty + 1 ms' : '<= empty x 1.2', met };
}

export function judgeGrowth(empty: PhaseFigures, loaded: PhaseFigures): GrowthTarget[] {
  const targets: GrowthTarget[] = [];
  const both = (name: string, pick: (f: PhaseFigures) => LatencySummary) => {
    targets.push(latencyTarget(`${name} p50 ms`, pick(empty).p50, pick(loaded).p50));
    targets.push(latencyTarget(`${name} p99 ms`, pick(empty).p99, pick(loaded).p99));
  };
  both('acceptOffer', (f) => f.acceptMs);
  both('accept -> DEPLOYED', (f) => f.acceptToDeployedMs);
  for (const name of Object.keys(empty.pages)) both(name, (f) => f.pages[name]!);
  for (const name of ['deploymentReconcilerMs', 'notificationReconcilerMs', 'outboxRelayMs', 'expirySweepMs'] as const) {
    targets.push(latencyTarget(`pass: ${name}`, empty.passes[name], loaded.passes[name]));
  }
  const rate = { empty: empty.drain.deploymentsPerSecond, loaded: loaded.drain.deploymentsPerSecond };
  targets.push({ name: 'one-worker drain, deployments/s', ...rate, target: '>= empty x 0.9', met: rate.loaded >= rate.empty * 0.9 });
  targets.push({
    name: 'bytes on disk per deployment (loaded)',
    empty: empty.bytesPerDeployment,
    loaded: loaded.bytesPerDeployment,
    target: '<= 4096',
    met: loaded.bytesPerDeployment <= 4096,
  });
  return targets;
}

/** The synthetic year, loaded set-based, then VACUUM ANALYZE; how long each took. */
async function loadAndVacuum(db: pg.Pool, history: HistorySize, scale: number) {
  // The outbox as the worker's retention job leaves it with EVENTS_RETENTION_DAYS of a year or
  // more: a partition per day of the history, made the way the job makes them, a day a
  // transaction (until 2026-12-07 the history went into the default partition, and the relay was
  // measured against the migration's few days). Not part of the load's time: the job makes a day's a day.
  const partitionsStart = performance.now();
  const partitions = await createOutboxPartitions(new Date(Date.now() - HISTORY_DAYS * 86_400_000), HISTORY_DAYS);
  log(`${partitions.length} day partitions of the outbox made in ${Math.round(since(partitionsStart) / 100) / 10} s`);
  log(`loading the history: ${history.users} users, ${history.offers} offers (scale ${scale})`);
  const loadStart = performance.now();
  const loader = await db.connect();
  let rows: Record<string, number>;
  try {
    rows = await loadHistory(loader as unknown as pg.Client, history);
  } finally {
    loader.release();
  }
  const loadSeconds = Math.round(since(loadStart) / 100) / 10;
  const vacuumStart = performance.now();
  await db.query('VACUUM ANALYZE');
  const vacuumAnalyzeSeconds = Math.round(since(vacuumStart) / 100) / 10;
  // The load leaves hundreds of megabytes of dirty pages, which the checkpointer writes out over
  // the next minutes, under whatever is measured then: in a run at 2026-12-08 00:28 the first
  // passes and round after the load were the slowest of the run (accept p50 8.08 ms against
  // 5.14-6.43 in the loaded database's later rounds). Written out here, before any figure.
  const checkpointStart = performance.now();
  await db.query('CHECKPOINT');
  const checkpointSeconds = Math.round(since(checkpointStart) / 100) / 10;
  const rowsTotal = Object.values(rows).reduce((a, b) => a + b, 0);
  log(`loaded ${rowsTotal} rows in ${loadSeconds} s, VACUUM ANALYZE ${vacuumAnalyzeSeconds} s, CHECKPOINT ${checkpointSeconds} s`);
  return { scale, history, rows, rowsTotal, loadSeconds, vacuumAnalyzeSeconds, checkpointSeconds };
}

/**
 * `--growth-bytes-only`: the history loaded, then only the drain of DRAIN and where its bytes
 * went, relation by relation (a minute or two at scale 0.05, to try a storage change quickly;
 * the full run stays the figure of record).
 */
async function measureBytesOnly(db: pg.Pool, env: Record<string, string>, history: HistorySize, options: GrowthOptions, machine: unknown) {
  const load = await loadAndVacuum(db, history, options.scale);
  const logFile = logFileFor('bytes');
  const api = await startService('api', env, logFile('api'));
  try {
    const bytes = await measureDrainBytes(db, api.url!, env, logFile, 'loaded');
    // The row versions the drain's updates left dead stay in the files until a VACUUM marks their
    // space free; this machine's PostgreSQL runs without autovacuum, which a production server
    // runs. So each drain after the first follows a VACUUM: what a deployment costs where that
    // space is reused. The first two drains are each for 2,000 users new to the book, with ids of
    // 50 characters (`bench-backlog-<uuid>`), which every row and index that names the user
    // repeats; then new users whose ids are UUIDs (36 characters, as many identity providers
    // give); then users already in the book (their profile updated, not created; ids of 9 to 14
    // characters): what a deployment costs apart from what a user's first one adds.
    const drainAfterVacuum = async (phase: string, users?: Parameters<typeof measureDrainBytes>[5]) => {
      const vacuumStarted = performance.now();
      await db.query('VACUUM');
      log(`VACUUM before "${phase}": ${Math.round(performance.now() - vacuumStarted)} ms`);
      return measureDrainBytes(db, api.url!, env, logFile, phase, users);
    };
    const afterVacuum = await drainAfterVacuum('loaded, after VACUUM');
    const uuidUsers = await drainAfterVacuum('new users with UUID ids, after VACUUM', { count: DRAIN, userFor: () => userWithId(randomUUID()) });
    // As many of the book's users as the other drains have: a VACUUM frees what a drain's updates
    // left dead, and a smaller drain after it would fit in that space and look cheaper than it is.
    const { rows: book } = await db.query<{ id: string }>(
      `SELECT user_id AS id FROM credit_profiles WHERE user_id LIKE '${USER_PREFIX}%' AND currency = 'BRL' ORDER BY random() LIMIT ${DRAIN}`,
    );
    if (book.length < DRAIN) throw new Error(`the book has ${book.length} users with a profile in BRL, fewer than ${DRAIN}`);
    const bookUsers = await drainAfterVacuum("the book's users, after VACUUM", {
      count: DRAIN,
      userFor: (i) => userWithId(book[i]!.id),
      // Above every limit and usage of the history's (R$ 50,900.00 at most): an increase for each,
      // never FAILED for a usage above it.
      limitCents: 6_000_000,
    });
    const file = new URL(`growth-bytes-${new Date().toISOString().replace(/:/g, '-')}.json`, RESULTS);
    await writeFile(file, `${JSON.stringify({ startedAt: new Date().toISOString(), mode: 'growth-bytes-only', machine, options, load, ...bytes, afterVacuum, uuidUsers, bookUsers }, null, 2)}\n`);
    console.log(`\n${bytes.bytesPerDeployment} bytes per deployment (target 4096); ${afterVacuum.bytesPerDeployment} after a VACUUM; ` +
      `${uuidUsers.bytesPerDeployment} for new users with UUID ids, ${bookUsers.bytesPerDeployment} for the book's users\nwritten to ${fileURLToPath(file)}`);
  } finally {
    await api.stop();
  }
}

export async function runGrowthBench(argv: string[]): Promise<void> {
  const options = parseGrowthOptions(argv);
  const history = scaledHistory(options.scale);
  const runId = `${Date.now()}`;
  const database = `credit_bench_growth_${runId}`;
  const prefix = `bench-growth-${runId}`;
  const emptyName = `${database}_empty`;
  const emptyPrefix = `${prefix}-empty`;
  let emptyDb: pg.Pool | null = null;
  buildProduction(log);
  await mkdir(RESULTS, { recursive: true });
  log(`creating and migrating ${database}`);
  const databaseUrl = await createBenchDatabase(database);
  // Its connections are kept (no idle timeout): on a shared server, reconnecting mid-run may find max_connections taken.
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4, idleTimeoutMillis: 0 });
  for (const client of await Promise.all(Array.from({ length: 4 }, () => db.connect()))) client.release();
  // For the outbox's day partitions, made as the worker makes them (the passes have a process of their own).
  connectDatabase(databaseSettings({ ...config, DATABASE_URL: databaseUrl }));
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_PREFIX: prefix,
    // info: the bench waits for each process's 'service started' line.
    LOG_LEVEL: 'info',
    WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
    ...EDGE_SETTINGS_FOR_BENCH,
    // The synthetic year is the book under measurement: the worker's retention job would start
    // trimming it mid-run (notifications past 180 days, the history's sent events past 7: a mass
    // delete under the measured statements, and the heavy user's deep pages gone). Retention is
    // tested on its own (test/retention.test.ts); here its periods outlast the history.
    NOTIFICATION_RETENTION_DAYS: '400',
    EVENTS_RETENTION_DAYS: '400',
    // The pages are asked for by full documents (the app's persisted operations have no page of
    // deployments); the journeys still send hashes. The same on both phases.
    GRAPHQL_ALLOW_DOCUMENTS: 'true',
  };
  try {
    const machine = await describeMachine(databaseUrl, config.REDIS_URL);
    if (options.bytesOnly) return await measureBytesOnly(db, env, history, options, machine);
    // The empty database is a twin of its own (the heavy user only), so that the services can be
    // measured on both by turns: a row measured on one database a few minutes after the other
    // moved by more than 20 % with the machine alone (2026-12-07 23:41 and 23:49 runs).
    log(`creating and migrating ${emptyName}`);
    const emptyUrl = await createBenchDatabase(emptyName);
    emptyDb = new pg.Pool({ connectionString: emptyUrl, max: 4, idleTimeoutMillis: 0 });
    for (const target of [db, emptyDb]) {
      const heavy = await target.connect();
      try {
        await loadHeavyUser(heavy as unknown as pg.Client, HEAVY_USER, HEAVY_ITEMS);
      } finally {
        heavy.release();
      }
      await target.query('VACUUM ANALYZE');
    }
    const load = await loadAndVacuum(db, history, options.scale);
    const phases = {
      empty: { db: emptyDb, env: { ...env, DATABASE_URL: emptyUrl, REDIS_PREFIX: emptyPrefix } },
      loaded: { db, env },
    };
    // The periodic jobs' passes, each database's in a process of its own (growth-passes.ts), by
    // turns: empty, loaded, loaded, empty, each figure the mean of its database's two (until
    // 2026-12-08 the empty figures were taken before the load and the loaded ones after it, a
    // minute apart: the sweep's pass came out 1.23-1.33x in three runs; by turns, 0.95x and 1.10x).
    // The work belongs to users without history on the empty database, to the history's users on
    // the loaded one: as many on both, so that both do the same work and only the history differs.
    // (Until 2026-12-07 the empty phase's work belonged to 100 users: its relay published the
    // 1,000 events in one pass of 100 users, the loaded one's in ten, and its sweep wrote for 100
    // users where the loaded one wrote for 10,000.)
    const work = { empty: { prefix: 'growth-live-', count: history.users }, loaded: { prefix: USER_PREFIX, count: history.users } };
    const passRounds: Record<keyof typeof phases, Passes[]> = { empty: [], loaded: [] };
    for (const phase of ['empty', 'loaded', 'loaded', 'empty'] as const) {
      log(`${phase}: one pass of each periodic job`);
      const passes = await measurePassesIn(phases[phase].env.DATABASE_URL, phases[phase].env.REDIS_PREFIX, work[phase]);
      log(`${phase}: passes ${JSON.stringify(passes)}`);
      passRounds[phase].push(passes);
    }
    const totals = { empty: await tableTotals(emptyDb), loaded: await tableTotals(db) };
    // The services' rows by turns, the first database of each round alternating; each figure is
    // the median of its rounds'.
    const rounds: Record<keyof typeof phases, ServiceFigures[]> = { empty: [], loaded: [] };
    for (let round = 0; round < options.rounds; round += 1) {
      const order = round % 2 === 0 ? (['empty', 'loaded'] as const) : (['loaded', 'empty'] as const);
      for (const phase of order) rounds[phase].push(await measureServices(phases[phase].db, phases[phase].env, options, `${phase} round ${round + 1}`));
    }
    // The drains by turns too (empty, loaded, loaded, empty): the rate is the mean of a database's
    // two, the bytes are its first drain's. One drain each, until 2026-12-08, gave 0.83x to 1.13x
    // in runs of the same code.
    type Drain = Awaited<ReturnType<typeof measureDrain>>;
    const drainRounds: Record<keyof typeof phases, Drain[]> = { empty: [], loaded: [] };
    for (const phase of ['empty', 'loaded', 'loaded', 'empty'] as const) {
      drainRounds[phase].push(await measureDrain(phases[phase].db, phases[phase].env, `${phase} drain ${drainRounds[phase].length + 1}`));
    }
    const drains = { empty: meanOfDrains(drainRounds.empty), loaded: meanOfDrains(drainRounds.loaded) };
    const empty: PhaseFigures = { ...totals.empty, ...combineRounds(rounds.empty), passes: meanOfPasses(passRounds.empty), ...drains.empty };
    const loaded: PhaseFigures = { ...totals.loaded, ...combineRounds(rounds.loaded), passes: meanOfPasses(passRounds.loaded), ...drains.loaded };

    const results = {
      startedAt: new Date(Number(runId)).toISOString(),
      mode: 'growth',
      machine,
      options,
      load,
      empty,
      loaded,
      rounds,
      passRounds,
      drainRates: Object.fromEntries(Object.entries(drainRounds).map(([phase, d]) => [phase, d.map((x) => x.drain.deploymentsPerSecond)])),
      targets: judgeGrowth(empty, loaded),
    };
    printGrowth(results.targets, results.load);
    const file = new URL(`growth-${new Date(Number(runId)).toISOString().replace(/:/g, '-')}.json`, RESULTS);
    await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nwritten to ${fileURLToPath(file)}`);
  } finally {
    killAllServices();
    await prisma?.$disconnect();
    await db.end();
    await emptyDb?.end();
    await removeRedisKeys(prefix);
    await removeRedisKeys(emptyPrefix);
    if (options.keepDatabase) log(`kept ${emptyDb ? `databases ${database} and ${emptyName}` : `database ${database}`}`);
    else {
      await dropBenchDatabase(database);
      await dropBenchDatabase(emptyName);
    }
  }
}

function printGrowth(targets: GrowthTarget[], load: { rowsTotal: number; loadSeconds: number; vacuumAnalyzeSeconds: number }) {
  console.log(`\nhistory: ${load.rowsTotal} rows loaded in ${load.loadSeconds} s (VACUUM ANALYZE ${load.vacuumAnalyzeSeconds} s)\n`);
  const width = Math.max(...targets.map((t) => t.name.length));
  console.log(`${'figure'.padEnd(width)}  ${'empty'.padStart(10)}  ${'loaded'.padStart(10)}  target`);
  for (const t of targets) {
    console.log(`${t.name.padEnd(width)}  ${String(t.empty).padStart(10)}  ${String(t.loaded).padStart(10)}  ${t.target} ${t.met ? 'met' : 'NOT MET'}`);
  }
}
