// `npm run bench [-- --quick]`: builds the service (`npm run build`) and starts the build (API and
// worker as separate processes, as in production) against a fresh database and Redis prefix,
// measures it, and `npm start` as a newcomer runs it beside; prints a table and writes
// bench/results/<timestamp>.json. Whatever happens, the processes are stopped and the database
// and Redis keys removed. See bench/README.md for what each figure means.
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/platform/config.ts';
import { buildProduction, killAllServices, startBuildAll, startNewcomer, startService, type NewcomerService, type ServiceProcess } from './children.ts';
import { assertLoopback, createBenchDatabase, dropBenchDatabase } from './database.ts';
import { freePort } from '../scripts/support/free-port.ts';
import { startThrowawayRedisCluster } from '../scripts/support/throwaway-redis-cluster.ts';
import { sendFullDocuments } from './api-client.ts';
import { runEdgeRounds, type EdgeCostResult } from './edge-cost.ts';
import { EDGE_OFF_FOR_BENCH, EDGE_SETTINGS_FOR_BENCH, subscriptionCapsFor } from './edge-limits.ts';
import { runGrowthBench } from './growth.ts';
import { medianJourney, runJourneys, type JourneyResult } from './journeys.ts';
import { describeMachine, openFilesLimit } from './machine.ts';
import { medianRun, openUsers, runOpenLoop, type OpenLoopRun } from './open-loop.ts';
import { parseOptions, type BenchOptions } from './options.ts';
import { cpuSeconds, machineBusySeconds, machineBusyShare, processTree } from './proc.ts';
import { removeRedisKeys } from './redis-keys.ts';
import { compare, judgeTargets, printResults, printTargets, writeResults, type BenchResults } from './report.ts';
import { compareWrites, gainedPer, rowCounts, type RowCounts, type WritesComparison } from './row-counts.ts';
import { seedQueuedDeployments } from './seed.ts';
import { runSqlLimit, type SqlLimitResult } from './sql-limit.ts';
import { runSubscriptionScale, type SubscriptionScaleResult } from './subscriptions.ts';
import { buildBacklog, drainBacklog, type Drainer, type DrainResult } from './throughput.ts';
import { measureFloors } from './floors.ts';
import { hopTable, receiveSpans } from './hops.ts';
import { databaseUrl } from './database.ts';
import { runVersus, oneCallerJourneys } from './versus.ts';
import { printVersus, versusTargets, type VersusSection } from './versus-report.ts';
import { peerSide, serviceSide } from './versus-sides.ts';

const config = loadConfig();

// `--campaign` is a bench of its own (bench/campaign.ts): a campaign's issuance, expiry and push.
if (process.argv.includes('--campaign')) {
  await (await import('./campaign.ts')).runCampaignBench(process.argv.slice(2));
  process.exit(0);
}

const RESULTS = new URL('./results/', import.meta.url);
/** Callers building the backlog: as many as the busiest journey level. */
const BACKLOG_CALLERS = 32;
/** Long enough that the reconcilers never enqueue the job-less rows seeded earlier (idle subscriptions, SQL limit). */
const NEVER_MS = String(7 * 24 * 3600 * 1000);

const startedAt = new Date();
const runId = `${startedAt.getTime()}`;
const log = (message: string) => console.error(`[bench +${Math.round((Date.now() - startedAt.getTime()) / 1000)}s] ${message}`);

/** Undo steps, run last-in first-out at the end, on failure, and on Ctrl-C. */
const cleanups: (() => Promise<unknown>)[] = [];
let cleaning: Promise<void> | null = null;
/** Runs once, however many times it is called (Ctrl-C arriving while the run fails, say). */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      await cleanups.pop()!().catch((error: unknown) => console.error(`[bench] clean-up step failed: ${String(error)}`));
    }
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    killAllServices();
    void cleanUp().finally(() => process.exit(130));
  });
}

interface Environment {
  options: BenchOptions;
  databaseUrl: string;
  db: pg.Pool;
  serviceEnv: Record<string, string>;
  redisPrefix: string;
}

const stamp = startedAt.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
let processCount = 0;
function start(env: Environment, role: 'api' | 'worker' | 'one-process', extra: Record<string, string> = {}): Promise<ServiceProcess> {
  const name = `${role}-${++processCount}`;
  const file = fileURLToPath(new URL(`${stamp}-${name}.log`, RESULTS));
  const profiles = fileURLToPath(new URL(`${stamp}-profiles/${name}`, RESULTS));
  const nodeArgs = env.options.cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${profiles}`] : [];
  return startService(role, { ...env.serviceEnv, ...extra }, file, nodeArgs);
}

function startNpmStart(env: Environment): Promise<NewcomerService> {
  const file = fileURLToPath(new URL(`${stamp}-npm-start-${++processCount}.log`, RESULTS));
  return startNewcomer(env.serviceEnv, file);
}

/** The commit measured, and whether the code differed from it (uncommitted changes under src/ or prisma/). */
function codeVersion(): { commit: string; dirty: boolean } {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' }).trim();
  try {
    return { commit: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--porcelain', '--', 'src', 'prisma', 'package.json') !== '' };
  } catch {
    return { commit: 'unknown (not a git checkout)', dirty: false };
  }
}

const startWorkers = (env: Environment, count: number, extra: Record<string, string> = {}) => () =>
  Promise.all(Array.from({ length: count }, () => start(env, 'worker', extra)));

/** Worker processes of the build, as the drain's drainer; on a Redis Cluster when its settings are given. */
const workerDrainer = (env: Environment, count: number, clusterEnv?: Record<string, string>) => async (): Promise<Drainer> => {
  const workers = await startWorkers(env, count, clusterEnv)();
  return {
    label: `${count} worker(s) x concurrency ${env.options.workerConcurrency}${clusterEnv ? ', Redis Cluster (3 masters, 3 replicas)' : ''}`,
    workers: count,
    redis: clusterEnv ? 'cluster' : 'single',
    pids: async () => workers.map((w) => w.pid),
    stop: async () => void (await Promise.all(workers.map((w) => w.stop()))),
  };
};

/** Before the supervisor, `npm start` was API and worker in one process: the drain's before/after row. */
const oneProcessDrainer = (env: Environment) => async (): Promise<Drainer> => {
  const service = await start(env, 'one-process');
  return { label: 'one process (API + worker, npm start before)', workers: 1, redis: 'single', pids: async () => [service.pid], stop: service.stop };
};

/** `npm start` as the drain's drainer: its CPU is that of its whole process tree (the API idles). */
const newcomerDrainer = (env: Environment) => async (): Promise<Drainer> => {
  const service = await startNpmStart(env);
  return { label: 'npm start (API + worker, supervised)', workers: 1, redis: 'single', pids: () => processTree(service.pid), stop: service.stop };
};

async function prepare(options: BenchOptions): Promise<Environment> {
  assertLoopback(config.REDIS_URL, 'REDIS_URL');
  const database = `credit_bench_${runId}`;
  const redisPrefix = `bench-${runId}`;
  cleanups.push(() => removeRedisKeys(redisPrefix));
  cleanups.push(() => (options.keepDatabase ? Promise.resolve(log(`kept database ${database}`)) : dropBenchDatabase(database)));
  log(`creating and migrating ${database}`);
  const databaseUrl = await createBenchDatabase(database);
  // Named, so the side-by-side rows can leave the bench's own backends out of the service's CPU.
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4, application_name: 'bench' });
  cleanups.push(() => db.end());
  const serviceEnv = {
    DATABASE_URL: databaseUrl,
    REDIS_PREFIX: redisPrefix,
    LOG_LEVEL: options.logLevel,
    WORKER_CONCURRENCY: String(options.workerConcurrency),
    DATABASE_POOL_SIZE: String(options.databasePoolSize),
    ...EDGE_SETTINGS_FOR_BENCH,
  };
  return { options, databaseUrl, db, serviceEnv, redisPrefix };
}

/**
 * The floors, the side-by-side rounds against the Celery design (when --versus=URL is given) and
 * the per-hop table, each against the production build as one command (`node dist/src/main.js
 * all`), the per-hop one on a service of its own with tracing on.
 */
async function measureVersusSection(env: Environment): Promise<VersusSection> {
  const { options } = env;
  const database = new URL(env.databaseUrl).pathname.slice(1);
  const logFile = (name: string) => fileURLToPath(new URL(`${stamp}-${name}-${++processCount}.log`, RESULTS));
  let floors;
  let versus = null;
  let versusSkipped: string | null = null;
  const service = await startBuildAll(env.serviceEnv, logFile('all'));
  try {
    log(`floors: ${options.floorSamples} samples each`);
    floors = await measureFloors({ apiUrl: service.url, db: env.db, redisUrl: config.REDIS_URL, redisPrefix: env.redisPrefix, samples: options.floorSamples });
    if (options.versusUrl) {
      const peerDb = new pg.Pool({ connectionString: databaseUrl(options.versusDatabase), max: 2, application_name: 'bench' });
      try {
        const ours = serviceSide({ url: service.url, servicePid: service.pid, db: env.db, database });
        const peer = peerSide({ url: options.versusUrl, db: peerDb, database: options.versusDatabase });
        versus = await runVersus(ours, peer, options.versus, log);
      } finally {
        await peerDb.end();
      }
    } else {
      versusSkipped = 'skipped: no --versus=URL given (start the Celery design with its run.sh, then pass its URL, e.g. --versus=http://127.0.0.1:8000)';
      log(`side by side: ${versusSkipped}`);
    }
  } finally {
    await service.stop();
  }
  log(`per hop: ${options.hopJourneys} traced one-caller journeys`);
  const receiver = await receiveSpans();
  try {
    const traced = await startBuildAll({ ...env.serviceEnv, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: '200' }, logFile('all-traced'));
    try {
      const side = serviceSide({ url: traced.url, servicePid: traced.pid, db: env.db, database });
      await oneCallerJourneys(side, 10); // warm-up
      receiver.spans.length = 0;
      await oneCallerJourneys(side, options.hopJourneys);
    } finally {
      // Stopping flushes the spans still buffered.
      await traced.stop();
    }
    return { floors, versus, versusSkipped, hops: hopTable(receiver.spans) };
  } finally {
    receiver.close();
  }
}

interface Measured {
  url: string;
  apiPids: number[];
  workerPids: number[];
}

const cpuOf = async (pids: number[]) => (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);

/** A level of journeys, with the CPU time API and worker spent on it. */
async function journeysWithCpu(target: Measured, users: number, total: number): Promise<JourneyResult> {
  const usage = () => Promise.all([cpuOf(target.apiPids), cpuOf(target.workerPids), machineBusySeconds()]);
  const before = await usage();
  const start = performance.now();
  const result = await runJourneys(target.url, users, total);
  const seconds = (performance.now() - start) / 1000;
  const [apiCpu, workerCpu, busy] = (await usage()).map((x, i) => x - before[i]!) as [number, number, number];
  const perJourney = (s: number) => Math.round((s / total) * 1000 * 100) / 100;
  const machineBusyPercent = Math.round((busy / (seconds * availableParallelism())) * 100);
  return { ...result, cpu: { apiMsPerJourney: perJourney(apiCpu), workerMsPerJourney: perJourney(workerCpu), machineBusyPercent } };
}

/** Figures 1 and 2 with API and one worker running; each level the median of `repetitions` runs. */
async function measureJourneys(env: Environment, target: Measured, levels: number[]): Promise<JourneyResult[]> {
  log(`warm-up: ${env.options.warmupJourneys} journeys`);
  await runJourneys(target.url, 8, env.options.warmupJourneys);
  const results: JourneyResult[] = [];
  for (const users of levels) {
    const total = env.options.journeys[users] ?? users * 20;
    const runs: JourneyResult[] = [];
    for (let rep = 1; rep <= env.options.repetitions; rep++) {
      log(`journeys: ${users} users, ${total} journeys (run ${rep} of ${env.options.repetitions})`);
      runs.push(await journeysWithCpu(target, users, total));
    }
    results.push(medianJourney(runs));
  }
  return results;
}

/**
 * Figure 6: the open loop at each offered rate, `repetitions` rounds of all rates (a round goes
 * through every rate, so the machine's drift spreads over all of them), each rate the median.
 */
async function measureOpenLoop(env: Environment, target: Measured, halfCapacity: number | null): Promise<OpenLoopRun[]> {
  const { openLoopSeconds: seconds, repetitions } = env.options;
  // The targets' rate: half of what one worker process drained in this run, beside the fixed rates.
  const rates = [...new Set([...env.options.openLoopRates, ...(halfCapacity ? [halfCapacity] : [])])].sort((a, b) => a - b);
  // One accept per user per window: accepting an offer supersedes the user's other PENDING ones.
  const userCount = Math.max(...rates) * seconds;
  log(`open loop: opening ${userCount} users' sockets and notifications subscriptions`);
  const people = await openUsers(target.url, userCount);
  const runs = new Map<number, OpenLoopRun[]>(rates.map((r) => [r, []]));
  try {
    for (let rep = 1; rep <= repetitions; rep++) {
      for (const perSecond of rates) {
        log(`open loop: ${perSecond} accepts/s for ${seconds} s (run ${rep} of ${repetitions})`);
        runs.get(perSecond)!.push(await runOpenLoop({ url: target.url, db: env.db, people, perSecond, seconds, servicePids: () => [...target.apiPids, ...target.workerPids] }));
      }
    }
  } finally {
    await people.close();
  }
  return rates.map((r) => medianRun(runs.get(r)!));
}

/**
 * `npm start` as a newcomer runs it: start-up, and the one-user rows against it; then the same
 * rows against API and worker in one process (what `npm start` was before the supervisor).
 */
async function measureNewcomer(env: Environment) {
  log('npm start: one-user journeys');
  const service = await startNpmStart(env);
  let journeys: JourneyResult[];
  try {
    const tree = await processTree(service.pid);
    journeys = await measureJourneys(env, { url: service.url, apiPids: tree, workerPids: [] }, [1]);
  } finally {
    await service.stop();
  }
  log('API and worker in one process (npm start before): one-user journeys');
  const one = await start(env, 'one-process');
  try {
    const oneProcess = await measureJourneys(env, { url: one.url!, apiPids: [one.pid], workerPids: [] }, [1]);
    return { startupMs: service.startupMs, journeys, oneProcess };
  } finally {
    await one.stop();
  }
}

/**
 * Figures 3 and 4. The SQL limit runs after both drains: its deployments' notifications have no
 * job, and a later worker's reconciler would pick them up and deliver them during its drain.
 */
async function measureThroughput(env: Environment, url: string) {
  const { backlog, databasePoolSize, workerConcurrency } = env.options;
  const throughput: DrainResult[] = [];
  const sqlLimit: SqlLimitResult[] = [];
  let backlogAccept = null;
  let serviceWrites: RowCounts | null = null;
  /** A backlog built through the API at `apiUrl`, drained by `drainer`. */
  const drainOnce: DrainOnce = async (name, apiUrl, drainer) => {
    log(`backlog: accepting ${backlog} offers with no worker running`);
    const built = await buildBacklog(apiUrl, backlog, BACKLOG_CALLERS);
    backlogAccept ??= { concurrency: built.concurrency, acceptMs: built.acceptMs, offersPerSecond: built.offersPerSecond };
    log(`draining: ${name}`);
    const before = await rowCounts(env.db);
    throughput.push(await drainBacklog(env.db, built, drainer, workerConcurrency));
    // The first drain's (one worker, single Redis) writes are compared with the SQL loop's.
    serviceWrites ??= gainedPer(before, await rowCounts(env.db), backlog);
  };
  const drains = [
    () => drainOnce('1 worker process', url, workerDrainer(env, 1)),
    // Right after the single Redis drain of the same worker, on a database of about the same size.
    ...(env.options.cluster ? [() => drainOnRedisCluster(env, drainOnce)] : []),
    () => drainOnce('2 worker processes', url, workerDrainer(env, 2)),
    ...(env.options.newcomer
      ? [
          () => drainOnce('npm start', url, newcomerDrainer(env)),
          () => drainOnce('API and worker in one process (npm start before)', url, oneProcessDrainer(env)),
        ]
      : []),
  ];
  for (const drain of drains) await drain();
  let sqlWrites: RowCounts | null = null;
  for (const workers of [1, 2]) {
    // As many connections as the worker processes' pools, within what the server has left.
    const connections = Math.min(workers * databasePoolSize, await connectionsLeft(env.db, 5));
    log(`plain SQL limit: ${backlog} deployments over ${connections} connections`);
    const seeded = await seedQueuedDeployments(env.db, Array.from({ length: backlog }, (_, i) => `bench-sql-${workers}-${i}`));
    const before = await rowCounts(env.db);
    sqlLimit.push(await runSqlLimit(env.databaseUrl, seeded, connections));
    sqlWrites ??= gainedPer(before, await rowCounts(env.db), backlog);
  }
  const writes: WritesComparison = compareWrites(serviceWrites!, sqlWrites!);
  return { throughput, sqlLimit, backlogAccept, writes };
}

/** Connections PostgreSQL accepts beyond those open now, keeping `spare` for others. */
async function connectionsLeft(db: Environment['db'], spare: number): Promise<number> {
  const { rows } = await db.query<{ left: number }>(
    `SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int - count(*)::int AS left FROM pg_stat_activity`,
  );
  return Math.max(1, rows[0]!.left - spare);
}

type DrainOnce = (name: string, apiUrl: string, drainer: () => Promise<Drainer>) => Promise<void>;

/**
 * Figure 3 on a Redis Cluster (`--cluster`): a throwaway cluster of 3 masters and 3 replicas from
 * the machine's redis-server, an API and one worker process with REDIS_CLUSTER_NODES pointing at
 * it (REDIS_URL at a closed port, so nothing can use the single Redis unnoticed). The backlog is
 * built through that API, as the queue is on the cluster. Torn down after the drain, and by the
 * clean-up on failure or Ctrl-C.
 */
async function drainOnRedisCluster(env: Environment, drainOnce: DrainOnce): Promise<void> {
  log('Redis Cluster: starting 3 masters and 3 replicas');
  const cluster = await startThrowawayRedisCluster();
  let destroyed: Promise<void> | null = null;
  const destroy = () => (destroyed ??= cluster.destroy());
  cleanups.push(destroy);
  try {
    const clusterEnv = { REDIS_CLUSTER_NODES: cluster.nodes, REDIS_URL: `redis://127.0.0.1:${await freePort()}` };
    const api = await start(env, 'api', clusterEnv);
    try {
      await drainOnce('1 worker process on the Redis Cluster', api.url!, workerDrainer(env, 1, clusterEnv));
    } finally {
      await api.stop();
    }
  } finally {
    await destroy();
    log('Redis Cluster: stopped');
  }
}

/**
 * The edge's cost: one user's latency with the edge on (the API of the journeys) and off (an API
 * started with EDGE_OFF_FOR_BENCH, its clients sending full documents), interleaved rounds.
 */
async function measureEdgeCost(env: Environment, on: Measured): Promise<EdgeCostResult> {
  const off = await start(env, 'api', EDGE_OFF_FOR_BENCH);
  try {
    sendFullDocuments(off.url!);
    log(`edge off: warm-up ${env.options.warmupJourneys} journeys`);
    await runJourneys(off.url!, 8, env.options.warmupJourneys);
    return await runEdgeRounds({ onUrl: on.url, offUrl: off.url!, rounds: env.options.edgeRounds, journeysPerRound: env.options.edgeJourneysPerRound, log });
  } finally {
    await off.stop();
  }
}

/** Subscriptions per graphql-ws connection in figure 5: as asked, or more if `ulimit -n` is too low for one socket each. */
function subscriptionsPerSocket(options: BenchOptions): number {
  // Each graphql-ws connection is a descriptor in this process and in the API: stay well below the limit.
  const socketsAllowed = Math.max(1, openFilesLimit() - 2000);
  return Math.max(options.subscriptionsPerSocket, Math.ceil(Math.max(...options.subscriptionLevels) / socketsAllowed));
}

/** Figure 5, on a fresh API process, so its memory is the subscriptions' and not earlier phases'. */
async function measureSubscriptions(env: Environment): Promise<SubscriptionScaleResult> {
  const { options } = env;
  const perSocket = subscriptionsPerSocket(options);
  // One user per socket: the per-socket and per-user subscription caps must admit perSocket.
  const api = await start(env, 'api', subscriptionCapsFor(perSocket));
  const [worker] = await startWorkers(env, 1, { RECONCILE_GRACE_MS: NEVER_MS })();
  try {
    await runJourneys(api.url!, 1, 20); // warm the fresh process before its baseline is read
    log(`idle subscriptions: ${options.subscriptionLevels.join(', ')} (${perSocket} per socket)`);
    return await runSubscriptionScale({
      url: api.url!,
      apiPid: api.pid,
      db: env.db,
      levels: options.subscriptionLevels,
      perSocket,
      activeSamples: options.activeSamples,
      idleWindowMs: options.idleWindowMs,
    });
  } finally {
    await Promise.all([api.stop(), worker!.stop()]);
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  // Read first: others may commit while the run goes on.
  const code = codeVersion();
  buildProduction(log);
  const env = await prepare(options);
  const machine = await describeMachine(env.databaseUrl, config.REDIS_URL);
  const busyBefore = await machineBusyShare();
  // First, on a fresh database: the side-by-side rounds compare with a peer that starts fresh too.
  const versusSection = await measureVersusSection(env);
  if (options.versusOnly) {
    const results = {
      startedAt: startedAt.toISOString(),
      code,
      durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      mode: 'versus only',
      machine,
      machineBusyBeforeRun: busyBefore,
      settings: { ...env.serviceEnv, DATABASE_URL: undefined, database: new URL(env.databaseUrl).pathname.slice(1), ...options },
      ...versusSection,
      targets: versusTargets(versusSection),
    };
    printVersus(versusSection);
    printTargets(results.targets);
    console.log(`\nwritten to ${await writeResults(results, RESULTS)}`);
    return;
  }
  const api = await start(env, 'api');
  // The drains first, on a quiet database: the rows they write are compared with the SQL loop's,
  // and the open loop leaves notification jobs behind (push fallbacks, PUSH_FALLBACK_AFTER_MS later).
  const { throughput, sqlLimit, backlogAccept, writes } = await measureThroughput(env, api.url!);
  const worker = await start(env, 'worker');
  const split: Measured = { url: api.url!, apiPids: [api.pid], workerPids: [worker.pid] };
  const journeys = await measureJourneys(env, split, options.userLevels);
  const edgeCost = await measureEdgeCost(env, split);
  const oneWorkerDrain = throughput.find((d) => d.workers === 1 && d.redis === 'single' && d.label.startsWith('1 worker'));
  const openLoopHalfCapacityPerSecond = oneWorkerDrain ? Math.max(1, Math.round(oneWorkerDrain.deploymentsPerSecond / 2)) : null;
  const openLoop = options.openLoopRates.length > 0 ? await measureOpenLoop(env, split, openLoopHalfCapacityPerSecond) : [];
  await worker.stop();
  await api.stop();
  const newcomer = options.newcomer ? await measureNewcomer(env) : null;
  const subscriptions = options.subscriptionLevels.length > 0 ? await measureSubscriptions(env) : null;

  const partial = {
    startedAt: startedAt.toISOString(),
    code,
    durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    mode: options.quick ? ('quick' as const) : ('full' as const),
    machine,
    settings: { ...env.serviceEnv, DATABASE_URL: undefined, database: new URL(env.databaseUrl).pathname.slice(1), ...options },
    edgeSettings: {
      raisedForLoad: EDGE_SETTINGS_FOR_BENCH,
      idleSubscriptionsApi: subscriptions ? subscriptionCapsFor(subscriptions.subscriptionsPerSocket) : null,
      edgeOffRounds: EDGE_OFF_FOR_BENCH,
    },
    journeys,
    edgeCost,
    openLoop,
    openLoopHalfCapacityPerSecond,
    newcomer,
    backlogAccept,
    throughput,
    sqlLimit,
    comparison: compare(throughput, sqlLimit, options.databasePoolSize),
    writes,
    subscriptions,
    versusSection,
    machineBusyBeforeRun: busyBefore,
  };
  const results: BenchResults = { ...partial, targets: [...versusTargets(versusSection), ...judgeTargets(partial)] };
  printVersus(versusSection);
  printResults(results);
  console.log(`\nwritten to ${await writeResults(results, RESULTS)}`);
}

try {
  // The growth bench is a run of its own (bench/growth.ts): a database loaded with a year of history.
  if (process.argv.includes('--growth')) await runGrowthBench(process.argv.slice(2));
  else await main();
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
} finally {
  killAllServices();
  await cleanUp();
}
