// `node --import tsx bench/round-trips.ts [--journeys=50]`: what one operation costs in round
// trips. API and worker run as in the bench, but reach Postgres and Redis through counting
// proxies (one per process), so every statement and Redis command is attributed. Not timed:
// the proxies add latency. Prints per-operation counts and writes bench/results/<ts>-round-trips.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/platform/config.ts';
import { acceptOffer, engineToken, issueOffer, newUser } from './api-client.ts';
import { killAllServices, startService, type ServiceProcess } from './children.ts';
import { perOperation, startPostgresCounter, startRedisCounter, type CountingProxy, type Counts } from './counting-proxy.ts';
import { assertLoopback, createBenchDatabase, dropBenchDatabase } from './database.ts';
import { runJourneys } from './journeys.ts';
import { sleep } from './parallel.ts';
import { removeRedisKeys } from './redis-keys.ts';

const config = loadConfig();

const RESULTS = new URL('./results/', import.meta.url);
const journeys = Number(process.argv.find((a) => a.startsWith('--journeys='))?.slice(11) ?? 50);
const runId = `${Date.now()}`;
const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
/** Time for the work that follows a deployment (its notification's job) to finish before counting. */
const SETTLE_MS = 2_000;

interface Proxies {
  apiPg: CountingProxy;
  apiRedis: CountingProxy;
  workerPg: CountingProxy;
  workerRedis: CountingProxy;
}

type Snapshot = Record<keyof Proxies, Counts>;
const snapshot = (p: Proxies): Snapshot => ({
  apiPg: p.apiPg.snapshot(),
  apiRedis: p.apiRedis.snapshot(),
  workerPg: p.workerPg.snapshot(),
  workerRedis: p.workerRedis.snapshot(),
});

function diff(before: Snapshot, after: Snapshot, n: number) {
  return Object.fromEntries((Object.keys(after) as (keyof Proxies)[]).map((k) => [k, perOperation(before[k], after[k], n)]));
}

/** Runs `work` (n operations) and returns what each process sent per operation. */
async function measure(proxies: Proxies, n: number, work: () => Promise<unknown>) {
  const before = snapshot(proxies);
  await work();
  await sleep(SETTLE_MS);
  return diff(before, snapshot(proxies), n);
}

function print(title: string, counts: Record<string, Counts>) {
  console.log(`\n== ${title}`);
  for (const [process, c] of Object.entries(counts)) {
    if (c.total === 0) continue;
    console.log(`  ${process}: ${c.total} per operation`);
    for (const [label, n] of Object.entries(c.by).sort((a, b) => b[1] - a[1])) console.log(`    ${String(n).padStart(5)}  ${label}`);
  }
}

async function main(cleanups: (() => Promise<unknown>)[]) {
  assertLoopback(config.REDIS_URL, 'REDIS_URL');
  const database = `credit_bench_rt_${runId}`;
  const prefix = `bench-rt-${runId}`;
  cleanups.push(() => removeRedisKeys(prefix));
  const databaseUrl = await createBenchDatabase(database);
  cleanups.push(() => dropBenchDatabase(database));
  const pgPort = Number(new URL(databaseUrl).port || 5432);
  const redisPort = Number(new URL(config.REDIS_URL).port || 6379);
  const proxies: Proxies = {
    apiPg: await startPostgresCounter(pgPort),
    apiRedis: await startRedisCounter(redisPort, prefix),
    workerPg: await startPostgresCounter(pgPort),
    workerRedis: await startRedisCounter(redisPort, prefix),
  };
  cleanups.push(() => Promise.all(Object.values(proxies).map((p) => p.close())));
  const via = (url: string, port: number) => Object.assign(new URL(url), { port: String(port) }).toString();
  const env = (pg: CountingProxy, redis: CountingProxy) => ({
    DATABASE_URL: via(databaseUrl, pg.port),
    REDIS_URL: via(config.REDIS_URL, redis.port),
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'info',
  });
  const log = (role: string) => fileURLToPath(new URL(`${stamp}-round-trips-${role}.log`, RESULTS));
  const api: ServiceProcess = await startService('api', env(proxies.apiPg, proxies.apiRedis), log('api'));
  const worker: ServiceProcess = await startService('worker', env(proxies.workerPg, proxies.workerRedis), log('worker'));
  cleanups.push(() => Promise.all([api.stop(), worker.stop()]));
  const url = api.url!;
  await runJourneys(url, 1, 10); // warm-up: connections opened, users created

  const engine = await engineToken();
  const users = await Promise.all(Array.from({ length: journeys }, () => newUser('rt')));
  const offers: string[] = [];
  const issue = await measure(proxies, journeys, async () => {
    for (const u of users) offers.push(await issueOffer(url, engine, u.id));
  });
  const accept = await measure(proxies, journeys, async () => {
    for (const [i, u] of users.entries()) await acceptOffer(url, u, offers[i]!);
  });
  const journey = await measure(proxies, journeys, () => runJourneys(url, 1, journeys));
  const results = { journeys, issueCreditOffer: issue, acceptOfferAndItsDeployment: accept, journey };
  print('issueCreditOffer', issue);
  print('acceptOffer (API) and the deployment it causes (worker: deployment + notification)', accept);
  print('journey: issue, accept, watch until DEPLOYED', journey);
  await mkdir(RESULTS, { recursive: true });
  const file = fileURLToPath(new URL(`${stamp}-round-trips.json`, RESULTS));
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwritten to ${file}`);
}

const cleanups: (() => Promise<unknown>)[] = [];
try {
  await main(cleanups);
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  killAllServices();
  for (const undo of cleanups.reverse()) await undo().catch((e: unknown) => console.error(`clean-up failed: ${String(e)}`));
}
