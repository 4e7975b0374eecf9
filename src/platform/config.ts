// The service's settings, parsed from the environment by the entries. Nothing else reads process.env.
import { z } from 'zod';

const DEV_JWT_SECRET = 'dev-only-secret-do-not-use-in-production-0123456789';

const intFrom = (min: number) => z.coerce.number().int().min(min);

/** A Google service account key, inline as JSON (the same content as a key file). */
const serviceAccountJson = z.string().transform((text, ctx) => {
  let key: unknown;
  try {
    key = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be the JSON of a service account key' });
    return z.NEVER;
  }
  const parsed = z.object({ project_id: z.string(), client_email: z.string(), private_key: z.string() }).loose().safeParse(key);
  if (!parsed.success) {
    ctx.addIssue({ code: 'custom', message: 'must be a service account key with project_id, client_email and private_key' });
    return z.NEVER;
  }
  return parsed.data;
});

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    DATABASE_URL: z.url().default('postgres://postgres@127.0.0.1:5432/credit_deployment'),
    REDIS_URL: z.url().default('redis://127.0.0.1:6379'),
    /** Prefix of every Redis key and channel of this service (queues, pub/sub, presence). */
    REDIS_PREFIX: z.string().min(1).default('credit'),
    PORT: intFrom(0).max(65535).default(4000),
    HOST: z.string().default('127.0.0.1'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    JWT_SECRET: z.string().min(32, 'must be at least 32 characters').default(DEV_JWT_SECRET),
    JWT_JWKS_URL: z.url().optional(),
    JWT_ISSUER: z.string().optional(),
    JWT_AUDIENCE: z.string().optional(),
    /**
     * How long, from its first attempt, a deployment keeps retrying transient trouble (database or
     * Redis down, failing over, locked rows). The first attempt that fails after it ends FAILED
     * (RETRIES_EXHAUSTED). Longer than any managed database failover.
     */
    DEPLOYMENT_RETRY_HORIZON_MS: intFrom(0).default(3_600_000),
    /** First retry delay; each next one doubles it, up to DEPLOYMENT_BACKOFF_MAX_MS, with jitter. */
    DEPLOYMENT_BACKOFF_MS: intFrom(1).default(1000),
    /** The longest wait between two attempts of a deployment. */
    DEPLOYMENT_BACKOFF_MAX_MS: intFrom(1).default(60_000),
    WORKER_CONCURRENCY: intFrom(1).max(500).default(16),
    /** How long a worker's lock on a job lasts without renewal: after a crash, the job is picked up again after about this long. */
    JOB_LOCK_MS: intFrom(1000).default(30_000),
    /** How often the reconciler looks for accepted deployments that have no job. */
    RECONCILE_INTERVAL_MS: intFrom(100).default(10_000),
    /** A non-final deployment this old with no job behind it is enqueued again. */
    RECONCILE_GRACE_MS: intFrom(0).default(5_000),
    /**
     * Connections per process. Default: one per job the process can run at once (the deployment and
     * the notification workers, WORKER_CONCURRENCY each; a job waiting on a row lock holds one), plus
     * DATABASE_API_CONNECTIONS for the API and the reconcilers.
     */
    DATABASE_POOL_SIZE: intFrom(1).max(500).optional(),
    /** Connections kept for the API's requests and the periodic reconcilers, on top of the workers' jobs. */
    DATABASE_API_CONNECTIONS: intFrom(1).max(200).default(10),
    /** Opening a connection gives up after this long (then the operation fails as unavailable, and a job retries). */
    DATABASE_CONNECT_TIMEOUT_MS: intFrom(100).default(5_000),
    /** A transaction waiting longer than this for a row lock fails (and a deployment retries). */
    DATABASE_LOCK_TIMEOUT_MS: intFrom(1).default(5_000),
    /** Any statement running longer than this is cancelled by the server. */
    DATABASE_STATEMENT_TIMEOUT_MS: intFrom(1).default(30_000),
    /** A session idle inside an open transaction this long is ended by the server, releasing its locks. */
    DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: intFrom(1).default(60_000),
    /** A notification delivered in-app and not acknowledged within this long is also pushed. */
    PUSH_FALLBACK_AFTER_MS: intFrom(0).default(30_000),
    /** Push attempts (per notification) when the provider fails transiently. */
    PUSH_ATTEMPTS: intFrom(1).max(50).default(5),
    /** First retry delay of a push; each next one doubles it. */
    PUSH_BACKOFF_MS: intFrom(0).default(2_000),
    /** A user counts as present while an API process refreshed their live subscription within this long. */
    PRESENCE_TTL_MS: intFrom(300).default(30_000),
    /** How often PENDING offers past their expiry are expired. */
    OFFER_EXPIRY_INTERVAL_MS: intFrom(100).default(60_000),
    /** Firebase project of the app; push is on when this and a service account are set. */
    FCM_PROJECT_ID: z.string().min(1).optional(),
    /** Path of a service account key file for FCM. */
    GOOGLE_APPLICATION_CREDENTIALS: z.string().min(1).optional(),
    /** The service account key inline (wins over GOOGLE_APPLICATION_CREDENTIALS). */
    FCM_SERVICE_ACCOUNT_JSON: serviceAccountJson.optional(),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && env.JWT_SECRET === DEV_JWT_SECRET && !env.JWT_JWKS_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_SECRET'],
        message: 'the development secret cannot be used with NODE_ENV=production; set JWT_SECRET or JWT_JWKS_URL',
      });
    }
    if (env.FCM_PROJECT_ID && !env.FCM_SERVICE_ACCOUNT_JSON && !env.GOOGLE_APPLICATION_CREDENTIALS) {
      ctx.addIssue({
        code: 'custom',
        path: ['FCM_PROJECT_ID'],
        message: 'push needs a service account: set GOOGLE_APPLICATION_CREDENTIALS or FCM_SERVICE_ACCOUNT_JSON',
      });
    }
  });

export type Config = z.infer<typeof schema>;

/**
 * Connections of one process's pool: the configured size, or one per job its workers can run at
 * once (deployments and notifications, WORKER_CONCURRENCY each) plus the API's and reconcilers' share.
 */
export function databasePoolSize(
  config: Pick<Config, 'DATABASE_POOL_SIZE' | 'WORKER_CONCURRENCY' | 'DATABASE_API_CONNECTIONS'>,
  worker = true,
): number {
  return config.DATABASE_POOL_SIZE ?? (worker ? 2 * config.WORKER_CONCURRENCY : 0) + config.DATABASE_API_CONNECTIONS;
}

/** Parses the environment; on any bad value, one error naming every bad variable. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  // An empty variable means "not set", as in most shells' `FOO= cmd`.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
}

/**
 * The configuration of this process, from its environment: for the entries (main.ts, service.ts,
 * scripts, the bench and the tests' harness) only; everything else is given the values it needs.
 * A bad value stops the process with the message.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  try {
    return parseConfig(env);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
