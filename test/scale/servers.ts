// The scale suite's own servers: a Redis Cluster (three masters, three replicas), a PostgreSQL
// and a PgBouncer in transaction mode in front of it, and the environment that points the
// service at them. REDIS_URL points at a closed port, so nothing can silently use a single
// Redis. Import it first, before any module of the service reads its configuration.
import { freePort } from '../support/free-port.ts';
import { startThrowawayPgBouncer } from '../support/throwaway-pgbouncer.ts';
import { startThrowawayPostgres } from '../support/throwaway-postgres.ts';
import { startThrowawayRedisCluster } from '../support/throwaway-redis-cluster.ts';

export const cluster = await startThrowawayRedisCluster();
export const postgres = await startThrowawayPostgres();
export const directUrl = await postgres.createMigratedDatabase('credit_scale');
export const pgbouncer = await startThrowawayPgBouncer(postgres.port);

export const scaleEnv = {
  NODE_ENV: 'test',
  DATABASE_URL: pgbouncer.url('credit_scale'),
  DIRECT_DATABASE_URL: directUrl,
  DATABASE_POOLER: 'pgbouncer',
  DATABASE_POOL_SIZE: '20',
  REDIS_CLUSTER_NODES: cluster.nodes,
  REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
  REDIS_PREFIX: 'scale',
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  PORT: '0',
  // Four processes on one host: each admin server on a free port.
  API_ADMIN_PORT: '0',
  WORKER_ADMIN_PORT: '0',
  DEPLOYMENT_BACKOFF_MS: '200',
  // Long enough that a loaded 2-core machine renews every lock in time (a stalled job runs twice,
  // harmlessly, but the suite counts runs); a job lost with the killed master is re-added by the
  // reconciler, not by lock expiry.
  JOB_LOCK_MS: '10000',
  RECONCILE_INTERVAL_MS: '1000',
  RECONCILE_GRACE_MS: '1000',
  DATABASE_LOCK_TIMEOUT_MS: '500',
  OFFER_EXPIRY_INTERVAL_MS: '1000',
  // The push fallback within the suite's time: a second unacknowledged in-app, then FCM.
  PUSH_FALLBACK_AFTER_MS: '1000',
  PUSH_BACKOFF_MS: '100',
  // A cap the suite reaches across the two API processes, and slots that lapse within a test
  // unless the cluster heartbeat renews them (long enough for a loaded machine's heartbeat).
  MAX_SUBSCRIPTIONS_PER_USER: '6',
  SUBSCRIPTION_SLOT_TTL_MS: '3000',
};
Object.assign(process.env, scaleEnv);

const { loadConfig } = await import('../../src/platform/config.ts');
const { applySessionDefaults, connectDatabase } = await import('../../src/platform/db.ts');
const { databaseSettings } = await import('../../src/service.ts');
const settings = databaseSettings(loadConfig());
await applySessionDefaults(settings);
connectDatabase(settings);

export async function destroyServers(): Promise<void> {
  const { prisma } = await import('../../src/platform/db.ts');
  await prisma.$disconnect();
  await pgbouncer.destroy();
  postgres.destroy();
  await cluster.destroy();
}
