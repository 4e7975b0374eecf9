// Runs before each test file's modules load: gives the file its own database and Redis prefix,
// and short timings, through the environment that src/platform/config.ts parses.
import { randomBytes } from 'node:crypto';
import { afterAll, inject } from 'vitest';
import { copyTemplate, databaseUrl, fileDatabaseName } from './databases.ts';

const runId = inject('testRunId');
const id = randomBytes(5).toString('hex');
const database = fileDatabaseName(runId, id);
await copyTemplate(runId, database);

Object.assign(process.env, {
  NODE_ENV: 'test',
  DATABASE_URL: databaseUrl(database),
  REDIS_PREFIX: `test-${id}`,
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  PORT: '0',
  API_ADMIN_PORT: '0',
  WORKER_ADMIN_PORT: '0',
  DEPLOYMENT_BACKOFF_MS: '200',
  DEPLOYMENT_BACKOFF_MAX_MS: '800',
  JOB_LOCK_MS: '2000',
  RECONCILE_INTERVAL_MS: '300',
  RECONCILE_GRACE_MS: '300',
  DATABASE_LOCK_TIMEOUT_MS: '500',
  // Notifications: a short in-app window before the push fallback (long enough for a test to
  // acknowledge in time on a loaded machine: 300 ms was seen to miss), quick push retries.
  PUSH_FALLBACK_AFTER_MS: '1000',
  PUSH_BACKOFF_MS: '100',
  OFFER_EXPIRY_INTERVAL_MS: '200',
  EVENTS_RELAY_INTERVAL_MS: '100',
  INSIGHTS_BLOCK_MS: '100',
  // Tests see what another process did by polling a user's lists every 25 ms, and a page of
  // notifications with their deliveries costs about 1,800 points: the default 30,000 a minute ran
  // out mid-wait on a loaded machine (RATE_LIMITED). The budget's own tests set theirs.
  RATE_LIMIT_USER_BUDGET_PER_MINUTE: '10000000',
});

// The file's own Prisma client, as an entry makes it (files query before and beside their service).
const { loadConfig } = await import('../../src/platform/config.ts');
const { connectDatabase } = await import('../../src/platform/db.ts');
const { databaseSettings } = await import('../../src/settings.ts');
connectDatabase(databaseSettings(loadConfig()));

// The file's Redis keys (its queues, buckets, leases, counters: about 2,000 for a notification
// suite) go when the file ends. After hooks run in reverse order and this one is registered
// first, so it runs after the file's own (its services closed). Best effort: a key left behind
// is no test's failure.
const fileRedis = { url: loadConfig().REDIS_URL, prefix: process.env.REDIS_PREFIX }; // before a test points REDIS_URL at a proxy
afterAll(async () => {
  const { removeRedisKeys } = await import('../../bench/redis-keys.ts');
  // Redis unreachable: the keys stay.
  await removeRedisKeys(fileRedis.prefix!, fileRedis.url).catch(() => undefined);
});
