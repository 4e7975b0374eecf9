// The service's settings, parsed once from the environment. Nothing else reads process.env.
import { z } from 'zod';

const DEV_JWT_SECRET = 'dev-only-secret-do-not-use-in-production-0123456789';

const intFrom = (min: number) => z.coerce.number().int().min(min);

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
    /** Processing attempts of a deployment before it ends FAILED. */
    DEPLOYMENT_ATTEMPTS: intFrom(1).max(50).default(3),
    /** First retry delay; each next one doubles it. */
    DEPLOYMENT_BACKOFF_MS: intFrom(0).default(1000),
    WORKER_CONCURRENCY: intFrom(1).max(500).default(16),
    /** How long a worker's lock on a job lasts without renewal: after a crash, the job is picked up again after about this long. */
    JOB_LOCK_MS: intFrom(1000).default(30_000),
    /** How often the reconciler looks for accepted deployments that have no job. */
    RECONCILE_INTERVAL_MS: intFrom(100).default(10_000),
    /** A non-final deployment this old with no job behind it is enqueued again. */
    RECONCILE_GRACE_MS: intFrom(0).default(5_000),
    DATABASE_POOL_SIZE: intFrom(1).max(200).default(10),
    /** A transaction waiting longer than this for a row lock fails (and a deployment retries). */
    DATABASE_LOCK_TIMEOUT_MS: intFrom(1).default(5_000),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && env.JWT_SECRET === DEV_JWT_SECRET && !env.JWT_JWKS_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_SECRET'],
        message: 'the development secret cannot be used with NODE_ENV=production; set JWT_SECRET or JWT_JWKS_URL',
      });
    }
  });

export type Config = z.infer<typeof schema>;

/** Parses the environment; on any bad value, one error naming every bad variable. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  // An empty variable means "not set", as in most shells' `FOO= cmd`.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
}

function load(): Config {
  try {
    return parseConfig(process.env);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}

export const config: Config = load();
