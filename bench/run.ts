// `npm run bench [-- --quick]`: starts the service (API and worker as separate processes, as in
// production) against a fresh database and Redis prefix, measures it, prints a table and writes
// bench/results/<timestamp>.json. Whatever happens, the processes are stopped and the database
// and Redis keys removed. See bench/README.md for what each figure means.
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/platform/config.ts';
import { killAllServices, startService, type ServiceProcess } from './children.ts';
import { assertLoopback, createBenchDatabase, dropBenchDatabase } from './database.ts';
import { runJourneys, type JourneyResult } from './journeys.ts';
import { describeMachine, openFilesLimit } from './machine.ts';
import { parseOptions, type BenchOptions } from './options.ts';
import { cpuSeconds, machineBusySeconds } from './proc.ts';
import { removeRedisKeys } from './redis-keys.ts';
import { compare, judgeTargets, printResults, writeResults, type BenchResults } from './report.ts';
import { seedQueuedDeployments } from './seed.ts';
import { runSqlLimit, type SqlLimitResult } from './sql-limit.ts';
import { runSubscriptionScale, type SubscriptionScaleResult } from './subscriptions.ts';
import { buildBacklog, drainBacklog, type DrainResult } from './throughput.ts';

const config = loadConfig();

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
}

const stamp = startedAt.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
let processCount = 0;
function start(env: Environment, role: 'api' | 'worker', extra: Record<string, string> = {}): Promise<ServiceProcess> {
  const name = `${role}-${++processCount}`;
  const file = fileURLToPath(new URL(`${stamp}-${name}.log`, RESULTS));
  const profiles = fileURLToPath(new URL(`${stamp}-profiles/${name}`, RESULTS));
  const nodeArgs = env.options.cpuProfile ? ['--cpu-prof', `--cpu-prof-dir=${profiles}`] : [];
  return startService(role, { ...env.serviceEnv, ...extra }, file, nodeArgs);
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

async function prepare(options: BenchOptions): Promise<Environment> {
  assertLoopback(config.REDIS_URL, 'REDIS_URL');
  const database = `credit_bench_${runId}`;
  const redisPrefix = `bench-${runId}`;
  cleanups.push(() => removeRedisKeys(redisPrefix));
  cleanups.push(() => (options.keepDatabase ? Promise.resolve(log(`kept database ${database}`)) : dropBenchDatabase(database)));
  log(`creating and migrating ${database}`);
  const databaseUrl = await createBenchDatabase(database);
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  cleanups.push(() => db.end());
  const serviceEnv = {
    DATABASE_URL: databaseUrl,
    REDIS_PREFIX: redisPrefix,
    LOG_LEVEL: options.logLevel,
    WORKER_CONCURRENCY: String(options.workerConcurrency),
    DATABASE_POOL_SIZE: String(options.databasePoolSize),
  };
  return { options, databaseUrl, db, serviceEnv };
}

/** A level of journeys, with the CPU time API and worker spent on it. */
async function journeysWithCpu(api: ServiceProcess, worker: ServiceProcess, users: number, total: number): Promise<JourneyResult> {
  const usage = () => Promise.all([cpuSeconds(api.pid), cpuSeconds(worker.pid), machineBusySeconds()]);
  const before = await usage();
  const start = performance.now();
  const result = await runJourneys(api.url!, users, total);
  const seconds = (performance.now() - start) / 1000;
  const [apiCpu, workerCpu, busy] = (await usage()).map((x, i) => x - before[i]!) as [number, number, number];
  const perJourney = (s: number) => Math.round((s / total) * 1000 * 100) / 100;
  const machineBusyPercent = Math.round((busy / (seconds * availableParallelism())) * 100);
  return { ...result, cpu: { apiMsPerJourney: perJourney(apiCpu), workerMsPerJourney: perJourney(workerCpu), machineBusyPercent } };
}

/** Figures 1 and 2 with API and one worker running. */
async function measureJourneys(env: Environment, api: ServiceProcess, worker: ServiceProcess): Promise<JourneyResult[]> {
  log(`warm-up: ${env.options.warmupJourneys} journeys`);
  await runJourneys(api.url!, 8, env.options.warmupJourneys);
  const results: JourneyResult[] = [];
  for (const users of env.options.userLevels) {
    const total = env.options.journeys[users] ?? users * 20;
    log(`journeys: ${users} users, ${total} journeys`);
    results.push(await journeysWithCpu(api, worker, users, total));
  }
  return results;
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
  for (const workers of [1, 2]) {
    log(`backlog: accepting ${backlog} offers with no worker running`);
    const built = await buildBacklog(url, backlog, BACKLOG_CALLERS);
    backlogAccept ??= { concurrency: built.concurrency, acceptMs: built.acceptMs, offersPerSecond: built.offersPerSecond };
    log(`draining with ${workers} worker process(es)`);
    throughput.push(await drainBacklog(env.db, built, startWorkers(env, workers), workerConcurrency));
  }
  for (const workers of [1, 2]) {
    const connections = workers * databasePoolSize;
    log(`plain SQL limit: ${backlog} deployments over ${connections} connections`);
    const seeded = await seedQueuedDeployments(env.db, Array.from({ length: backlog }, (_, i) => `bench-sql-${workers}-${i}`));
    sqlLimit.push(await runSqlLimit(env.databaseUrl, seeded, connections));
  }
  return { throughput, sqlLimit, backlogAccept };
}

/** Figure 5, on a fresh API process, so its memory is the subscriptions' and not earlier phases'. */
async function measureSubscriptions(env: Environment): Promise<SubscriptionScaleResult> {
  const { options } = env;
  // Each graphql-ws connection is a descriptor in this process and in the API: stay well below the limit.
  const socketsAllowed = Math.max(1, openFilesLimit() - 2000);
  const perSocket = Math.max(options.subscriptionsPerSocket, Math.ceil(Math.max(...options.subscriptionLevels) / socketsAllowed));
  const api = await start(env, 'api');
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
  const env = await prepare(options);
  const machine = await describeMachine(env.databaseUrl, config.REDIS_URL);
  const api = await start(env, 'api');
  const worker = await start(env, 'worker');
  const journeys = await measureJourneys(env, api, worker);
  await worker.stop();
  const { throughput, sqlLimit, backlogAccept } = await measureThroughput(env, api.url!);
  await api.stop();
  const subscriptions = options.subscriptionLevels.length > 0 ? await measureSubscriptions(env) : null;

  const partial = {
    startedAt: startedAt.toISOString(),
    code,
    durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    mode: options.quick ? ('quick' as const) : ('full' as const),
    machine,
    settings: { ...env.serviceEnv, DATABASE_URL: undefined, database: new URL(env.databaseUrl).pathname.slice(1), ...options },
    journeys,
    backlogAccept,
    throughput,
    sqlLimit,
    comparison: compare(throughput, sqlLimit, options.databasePoolSize),
    subscriptions,
  };
  const results: BenchResults = { ...partial, targets: judgeTargets(partial) };
  printResults(results);
  console.log(`\nwritten to ${await writeResults(results, RESULTS)}`);
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
} finally {
  killAllServices();
  await cleanUp();
}
