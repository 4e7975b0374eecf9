// Figure 3: sustained throughput. A backlog of accepted offers is built through the API while no
// worker runs, then the worker process(es) start and drain it. The rate comes from the
// deployments' own timestamps (first started_at to last completed_at), so worker start-up
// (tsx, Prisma, Redis) is reported apart and not counted against it.
import { availableParallelism } from 'node:os';
import type pg from 'pg';
import { acceptOffer, engineToken, issueOffer, newUser, type User } from './api-client.ts';
import { cpuSeconds, machineBusySeconds } from './proc.ts';
import { since, summarize, type LatencySummary } from './stats.ts';

export interface Backlog {
  deploymentIds: string[];
  /** acceptOffer with no worker running: the API and its transaction alone. */
  acceptMs: LatencySummary;
  concurrency: number;
  /** Offers issued and accepted per second while building it (two requests each). */
  offersPerSecond: number;
}

/**
 * `size` offers, issued and accepted by `concurrency` parallel callers: each for a new user, or for
 * the user `userFor(i)` gives (a user of a loaded book, say), at `limitCents` (default R$ 1,500.00).
 */
export async function buildBacklog(
  url: string,
  size: number,
  concurrency: number,
  userFor?: (i: number) => Promise<User>,
  limitCents?: number,
): Promise<Backlog> {
  const engine = await engineToken();
  const deploymentIds: string[] = [];
  const acceptMs: number[] = [];
  let started = 0;
  const caller = async () => {
    while (started < size) {
      const i = started;
      started += 1;
      const user = userFor ? await userFor(i) : await newUser('backlog');
      const offerId = await issueOffer(url, engine, user.id, limitCents);
      const start = performance.now();
      deploymentIds.push(await acceptOffer(url, user, offerId));
      acceptMs.push(since(start));
    }
  };
  const begin = performance.now();
  await Promise.all(Array.from({ length: concurrency }, caller));
  const offersPerSecond = Math.round((size / since(begin)) * 1000 * 10) / 10;
  return { deploymentIds, acceptMs: summarize(acceptMs), concurrency, offersPerSecond };
}

/** What drains the backlog: worker processes, or `npm start` (its whole process tree). */
export interface Drainer {
  /** How the row is labelled, e.g. '1 worker(s) x concurrency 16' or 'npm start'. */
  label: string;
  workers: number;
  /** Where the queues are: the single Redis of the machine, or a throwaway Redis Cluster. */
  redis: 'single' | 'cluster';
  /** The processes whose CPU counts as the drain's (read once they are up). */
  pids(): Promise<number[]>;
  stop(): Promise<void>;
}

export interface DrainResult {
  label: string;
  workers: number;
  redis: 'single' | 'cluster';
  concurrencyPerWorker: number;
  deployments: number;
  /** First started_at to last completed_at. */
  seconds: number;
  deploymentsPerSecond: number;
  /** From spawning the worker(s) to all of them having logged 'service started'. */
  workerStartupMs: number;
  /** Postgres commits in the bench database per deployment (pg_stat_database), worker and reconciler. */
  commitsPerDeployment: number;
  /**
   * Deployments applied per transaction: the deployments over the distinct transaction start
   * times of their DEPLOYED events (now() in PostgreSQL, in microseconds: one per transaction).
   */
  meanBatchSize: number;
  /** CPU time of the worker process(es) (npm start: all its processes) per deployment: what a deployment costs in Node. */
  workerCpuMsPerDeployment: number;
  /** Share of the machine's CPU (all cores) busy while draining, anything included. */
  machineBusyPercent: number;
  cores: number;
}

async function countOpen(db: pg.Pool, ids: string[]): Promise<{ open: number; failed: number }> {
  const { rows } = await db.query(
    `SELECT count(*) FILTER (WHERE status NOT IN ('DEPLOYED', 'FAILED'))::int AS open,
            count(*) FILTER (WHERE status = 'FAILED')::int AS failed
       FROM credit_deployments WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  return rows[0];
}

/** Commits so far in the bench database. Each statement outside a transaction sees fresh statistics. */
async function commits(db: pg.Pool): Promise<number> {
  const { rows } = await db.query(`SELECT xact_commit::bigint AS n FROM pg_stat_database WHERE datname = current_database()`);
  return Number(rows[0].n);
}

const POLL_MS = 50;
const cores = availableParallelism();

/** Polls until no deployment of `ids` is open; throws on a FAILED one. Returns how many polls it took. */
async function waitUntilFinal(db: pg.Pool, ids: string[]): Promise<number> {
  for (let polls = 1; ; polls++) {
    const { open, failed } = await countOpen(db, ids);
    if (failed > 0) throw new Error(`${failed} deployments of the backlog FAILED; see the worker logs`);
    if (open === 0) return polls;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

interface Drain {
  polls: number;
  seconds: number;
  workerCpuSeconds: number;
  machineBusySeconds: number;
}

/**
 * Bounded wait until the deployments' notifications took their delivery step (for users not in
 * the app, at once: a push, or SKIPPED with push off), so the rows they write are all there.
 */
async function waitUntilNotified(db: pg.Pool, ids: string[]): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (let polls = 1; Date.now() < deadline; polls++) {
    const { rows } = await db.query(
      `SELECT count(*)::int AS n FROM notifications WHERE deployment_id = ANY($1::uuid[]) AND status = 'PENDING' AND push_settled_at IS NULL`,
      [ids],
    );
    if (rows[0].n === 0) return polls;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error('the backlog\'s notifications were not delivered within 60 s; see the worker logs');
}

/** Waits for the drain, measuring CPU from the moment the workers are up (start-up excluded). */
async function watchDrain(db: pg.Pool, ids: string[], drainer: Drainer): Promise<Drain> {
  const pids = await drainer.pids();
  const workerCpu = async () => (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);
  const cpuBefore = await workerCpu();
  const busyBefore = await machineBusySeconds();
  const start = performance.now();
  const polls = await waitUntilFinal(db, ids);
  return {
    polls,
    seconds: since(start) / 1000,
    workerCpuSeconds: (await workerCpu()) - cpuBefore,
    machineBusySeconds: (await machineBusySeconds()) - busyBefore,
  };
}

/** Starts the workers, waits until every deployment of the backlog is final, stops the workers. */
export async function drainBacklog(
  db: pg.Pool,
  backlog: Backlog,
  startDrainer: () => Promise<Drainer>,
  concurrencyPerWorker: number,
): Promise<DrainResult> {
  const ids = backlog.deploymentIds;
  const commitsBefore = await commits(db);
  const spawnedAt = performance.now();
  const drainer = await startDrainer();
  const workerStartupMs = since(spawnedAt);
  let drain: Drain;
  let notifiedPolls: number;
  try {
    drain = await watchDrain(db, ids, drainer);
    notifiedPolls = await waitUntilNotified(db, ids);
  } finally {
    // Stopping also flushes the workers' statistics to pg_stat_database (a backend reports on exit).
    await drainer.stop();
  }
  const { rows } = await db.query(
    `SELECT extract(epoch FROM max(completed_at) - min(started_at))::float AS seconds FROM credit_deployments WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  const seconds = rows[0].seconds as number;
  const batches = await db.query(
    `SELECT count(DISTINCT at)::int AS n FROM deployment_events WHERE deployment_id = ANY($1::uuid[]) AND type = 'DEPLOYED'`,
    [ids],
  );
  const ownQueries = drain.polls + notifiedPolls + 3;
  return {
    label: drainer.label,
    workers: drainer.workers,
    redis: drainer.redis,
    concurrencyPerWorker,
    deployments: ids.length,
    seconds: Math.round(seconds * 100) / 100,
    deploymentsPerSecond: Math.round((ids.length / seconds) * 10) / 10,
    workerStartupMs: Math.round(workerStartupMs),
    commitsPerDeployment: Math.round((((await commits(db)) - commitsBefore - ownQueries) / ids.length) * 10) / 10,
    meanBatchSize: Math.round((ids.length / Math.max(1, batches.rows[0].n as number)) * 10) / 10,
    workerCpuMsPerDeployment: Math.round((drain.workerCpuSeconds / ids.length) * 1000 * 100) / 100,
    machineBusyPercent: Math.round((drain.machineBusySeconds / (drain.seconds * cores)) * 100),
    cores,
  };
}
