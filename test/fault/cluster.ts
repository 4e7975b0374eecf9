// The service as the fault suites run it: its own throwaway PostgreSQL and Redis, an API process
// and two worker processes, all on free ports. The suites stop, restart and kill the servers and
// the processes; afterAll cleans everything up, whatever happened.
import { createWriteStream } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';
import { gql, newUserId, token } from '../support/client.ts';
import { ACCEPT_OFFER } from '../support/fixtures.ts';
import { freePort } from '../support/free-port.ts';
import { killHard, stopGracefully } from '../support/processes.ts';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../support/throwaway-postgres.ts';
import { startThrowawayRedis, type ThrowawayRedis } from '../support/throwaway-redis.ts';
import { waitUntil } from '../support/wait.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Short timings, so that outages of seconds exercise many retries. */
export const FAULT_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  DEPLOYMENT_BACKOFF_MS: '200',
  DEPLOYMENT_BACKOFF_MAX_MS: '2000',
  JOB_LOCK_MS: '3000',
  RECONCILE_INTERVAL_MS: '500',
  RECONCILE_GRACE_MS: '1000',
  DATABASE_CONNECT_TIMEOUT_MS: '1000',
  DATABASE_LOCK_TIMEOUT_MS: '1000',
  PUSH_FALLBACK_AFTER_MS: '1000',
  PUSH_BACKOFF_MS: '100',
  OFFER_EXPIRY_INTERVAL_MS: '300',
  WORKER_CONCURRENCY: '16',
};

export interface FaultCluster {
  postgres: ThrowawayPostgres;
  redis: ThrowawayRedis;
  url: string;
  /** A client of the service's database (reconnects after outages: a pool). */
  db: pg.Pool;
  /** Stops the worker processes (gracefully when they can, else SIGKILL). */
  stopWorkers(): Promise<void>;
  /** Starts two worker processes, with extra settings. */
  startWorkers(extra?: Record<string, string>): void;
  /** The worker processes now running. */
  workers: ChildProcess[];
}

function spawnRole(role: 'api' | 'worker', env: Record<string, string>, label: string): ChildProcess {
  // FAULT_LOGS=dir keeps each process's JSON log lines there (at FAULT_LOG_LEVEL, default info).
  const logs = process.env.FAULT_LOGS;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', role], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: logs ? (process.env.FAULT_LOG_LEVEL ?? 'info') : 'silent', ...env },
    stdio: ['ignore', logs ? 'pipe' : 'ignore', 'inherit'],
  });
  if (logs) child.stdout!.pipe(createWriteStream(`${logs}/${label}.log`, { flags: 'a' }));
  return child;
}

/** Starts servers and processes before the file's tests; stops everything after. */
export function faultClusterForTests(workerEnv: Record<string, string> = {}): FaultCluster {
  const processes = new Set<ChildProcess>();
  const cluster = { workers: [] as ChildProcess[] } as unknown as FaultCluster;
  let env: Record<string, string> = {};
  let started = 0;

  const startWorkers = (extra: Record<string, string>) => {
    cluster.workers = [1, 2].map((n) => spawnRole('worker', { ...env, ...workerEnv, ...extra }, `worker-${started}-${n}`));
    started += 1;
    for (const worker of cluster.workers) processes.add(worker);
  };

  beforeAll(async () => {
    const [postgres, redis, port] = await Promise.all([startThrowawayPostgres(), startThrowawayRedis(), freePort()]);
    Object.assign(cluster, { postgres, redis, url: `http://127.0.0.1:${port}` });
    const databaseUrl = await postgres.createMigratedDatabase('credit_fault');
    env = { ...FAULT_ENV, DATABASE_URL: databaseUrl, REDIS_URL: redis.url, REDIS_PREFIX: 'fault', PORT: String(port) };
    cluster.db = new pg.Pool({ connectionString: databaseUrl, max: 4, connectionTimeoutMillis: 2000 });
    cluster.db.on('error', () => undefined);
    const api = spawnRole('api', env, 'api');
    processes.add(api);
    startWorkers({});
    await waitUntil(() => fetch(`${cluster.url}/ready`).then((r) => r.ok, () => false), 'the API to be ready', 60_000);
    cluster.stopWorkers = async () => {
      await Promise.all(cluster.workers.map((worker) => Promise.race([stopGracefully(worker), delay(10_000).then(() => killHard(worker))])));
      for (const worker of cluster.workers) processes.delete(worker);
      cluster.workers = [];
    };
    cluster.startWorkers = (extra = {}) => startWorkers(extra);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...processes].map((child) => killHard(child)));
    await cluster.db?.end().catch(() => undefined);
    await cluster.redis?.destroy();
    cluster.postgres?.destroy();
  });

  return cluster;
}

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `task` over `items`, `parallel` at a time. */
export async function inBatches<T, R>(items: T[], parallel: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await task(items[index]!, index);
      }
    }),
  );
  return results;
}

export interface Accepted {
  userId: string;
  offerId: string;
  deploymentId: string;
  limitCents: number;
}

/**
 * Gives each of `count` new users an offer and accepts it through the API. The offers are written
 * straight to the database, as the credit engine's issue would: what is under test starts at the
 * acceptance, and half the requests is half the wait on a 2-core machine.
 */
export async function acceptMany(cluster: Pick<FaultCluster, 'url' | 'db'>, count: number, limitCents = (i: number) => 100_000 + i): Promise<Accepted[]> {
  const offers = Array.from({ length: count }, (_, i) => ({ userId: newUserId('fault'), limitCents: limitCents(i) }));
  const { rows } = await cluster.db.query<{ id: string; user_id: string }>(
    `WITH u AS (INSERT INTO users (id) SELECT unnest($1::text[]))
     INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, expires_at)
     SELECT gen_random_uuid(), o.user_id, o.limit_cents, 250, 'BRL', now() + interval '1 hour'
       FROM unnest($1::text[], $2::bigint[]) AS o(user_id, limit_cents)
     RETURNING id, user_id`,
    [offers.map((o) => o.userId), offers.map((o) => o.limitCents)],
  );
  const offerOf = new Map(rows.map((r) => [r.user_id, r.id]));
  return inBatches(offers, 16, async ({ userId, limitCents: cents }) => {
    const offerId = offerOf.get(userId)!;
    const accepted = await gql(cluster.url, ACCEPT_OFFER, { offerId }, await token(userId));
    expect(accepted.errors).toBeUndefined();
    expect(accepted.data.acceptOffer.__typename).toBe('AcceptOfferSuccess');
    return { userId, offerId, deploymentId: accepted.data.acceptOffer.deployment.id as string, limitCents: cents };
  });
}

/** A PENDING offer of an existing user, as the credit engine would issue it. */
export async function pendingOffer(db: pg.Pool, userId: string, limitCents = 50_000): Promise<string> {
  const { rows } = await db.query(
    `INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, expires_at)
     VALUES (gen_random_uuid(), $1, $2, 250, 'BRL', now() + interval '1 hour') RETURNING id`,
    [userId, limitCents],
  );
  return rows[0].id;
}

/** How many of these deployments have started an attempt (null when the database does not answer). */
export async function started(db: pg.Pool, accepted: Accepted[]): Promise<number | null> {
  try {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM credit_deployments WHERE id = ANY($1::uuid[]) AND attempts > 0`, [
      accepted.map((a) => a.deploymentId),
    ]);
    return rows[0].n;
  } catch {
    return null;
  }
}

/**
 * Accepts `count` deployments with the workers stopped, starts the workers, and resolves once
 * they are at work: most deployments are then unfinished, some mid-transaction.
 */
export async function deploymentsInFlight(cluster: FaultCluster, count: number, extraWorkerEnv: Record<string, string> = {}) {
  await cluster.stopWorkers();
  const accepted = await acceptMany(cluster, count);
  cluster.startWorkers(extraWorkerEnv);
  await waitUntil(async () => ((await started(cluster.db, accepted)) ?? 0) >= 10, 'the workers to start on the deployments', 60_000);
  return accepted;
}

/** How many of these deployments are not final yet (null when the database does not answer). */
export async function unfinished(db: pg.Pool, accepted: Accepted[]): Promise<number | null> {
  try {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM credit_deployments WHERE id = ANY($1::uuid[]) AND status NOT IN ('DEPLOYED', 'FAILED')`, [
      accepted.map((a) => a.deploymentId),
    ]);
    return rows[0].n;
  } catch {
    return null;
  }
}

/** Waits until every one of these deployments is final (DEPLOYED or FAILED). */
export async function waitAllFinal(db: pg.Pool, accepted: Accepted[], timeoutMs = 90_000): Promise<void> {
  await waitUntil(async () => (await unfinished(db, accepted)) === 0, `${accepted.length} deployments to finish`, timeoutMs);
}

/**
 * What the customer must find after any outage: every deployment DEPLOYED, applied once (profile
 * version 1 for these new users, at the offered limit), one DEPLOYED event, one notification.
 */
export async function expectAllDeployedOnce(db: pg.Pool, accepted: Accepted[]): Promise<void> {
  const ids = accepted.map((a) => a.deploymentId);
  const { rows } = await db.query(
    `SELECT d.id, d.status::text AS status, p.version, p.limit_cents::text AS "limitCents",
            (SELECT count(*)::int FROM deployment_events e WHERE e.deployment_id = d.id AND e.type = 'DEPLOYED') AS deployed,
            (SELECT count(*)::int FROM deployment_events e WHERE e.deployment_id = d.id AND e.type = 'PROFILE_UPDATED') AS applied,
            (SELECT count(*)::int FROM notifications n WHERE n.deployment_id = d.id) AS notifications,
            (SELECT array_agg(e.sequence ORDER BY e.sequence) FROM deployment_events e WHERE e.deployment_id = d.id) AS sequences
       FROM credit_deployments d LEFT JOIN credit_profiles p ON p.user_id = d.user_id
      WHERE d.id = ANY($1::uuid[])`,
    [ids],
  );
  expect(rows).toHaveLength(accepted.length);
  const byId = new Map(accepted.map((a) => [a.deploymentId, a]));
  const wrong = rows.filter(
    (r) =>
      r.status !== 'DEPLOYED' ||
      r.version !== 1 ||
      r.limitCents !== String(byId.get(r.id)!.limitCents) ||
      r.deployed !== 1 ||
      r.applied !== 1 ||
      r.notifications !== 1 ||
      r.sequences.some((s: number, i: number) => s !== i + 1),
  );
  expect(wrong.slice(0, 3)).toEqual([]);
}

/** How many of these deployments recorded at least one RETRY_SCHEDULED. */
export async function withRetries(db: pg.Pool, accepted: Accepted[]): Promise<number> {
  const { rows } = await db.query(
    `SELECT count(DISTINCT deployment_id)::int AS n FROM deployment_events WHERE deployment_id = ANY($1::uuid[]) AND type = 'RETRY_SCHEDULED'`,
    [accepted.map((a) => a.deploymentId)],
  );
  return rows[0].n;
}
