// The service's settings, parsed from the environment by the entries. Nothing else reads process.env.
import { z } from 'zod';
import { parseClusterNodes } from './redis.ts';

const DEV_JWT_SECRET = 'dev-only-secret-do-not-use-in-production-0123456789';
const DEV_CONSENT_HMAC_KEY = 'dev-only-consent-key-do-not-use-in-production-0123456789';

const intFrom = (min: number) => z.coerce.number().int().min(min);

/** Protections of the public edge that EDGE_PROTECTIONS_OFF may switch off (the bench's on/off comparison). */
export const EDGE_PROTECTIONS = ['rate-limits', 'document-limits', 'subscription-caps', 'token-checks'] as const;
export type EdgeProtection = (typeof EDGE_PROTECTIONS)[number];

/** "true"/"false" (or 1/0); absent means the environment's default, decided below. */
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** Comma-separated origins, e.g. "https://app.example.com,https://admin.example.com". */
const originList = z
  .string()
  .transform((text) => text.split(',').map((o) => o.trim()).filter((o) => o.length > 0))
  .pipe(z.array(z.url().refine((o) => new URL(o).origin === o, 'each entry must be an origin: scheme://host[:port]')));

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

/** Alone too: the Prisma CLI needs the URL and nothing else (no secret to generate a client). */
const databaseUrl = z.url().default('postgres://postgres@127.0.0.1:5432/credit_deployment');

const schema = z
  .object({
    /** Unset means production: the development conveniences (the public JWT secret, GraphiQL, ...) need it said. */
    NODE_ENV: z.enum(['development', 'test', 'production']).default('production'),
    DATABASE_URL: databaseUrl,
    /**
     * PostgreSQL itself when DATABASE_URL is a pooler (PgBouncer): migrations run here (they hold
     * a session advisory lock), and the session defaults are set here. Default: DATABASE_URL.
     */
    DIRECT_DATABASE_URL: z.url().optional(),
    /** `pgbouncer`: DATABASE_URL is a PgBouncer in transaction mode (no session state; DIRECT_DATABASE_URL needed). */
    DATABASE_POOLER: z.enum(['none', 'pgbouncer']).default('none'),
    REDIS_URL: z.url().default('redis://127.0.0.1:6379'),
    /**
     * Seed nodes of a Redis Cluster ("host:port,host:port"): when set, every Redis use (queues,
     * pub/sub, presence) goes to the cluster and REDIS_URL is not used.
     */
    REDIS_CLUSTER_NODES: z
      .string()
      .transform((text, ctx) => {
        try {
          return parseClusterNodes(text);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: `must be host:port pairs separated by commas: ${(error as Error).message}` });
          return z.NEVER;
        }
      })
      .optional(),
    /** Prefix of every Redis key and channel of this service (queues, pub/sub, presence). */
    REDIS_PREFIX: z.string().min(1).default('credit'),
    PORT: intFrom(0).max(65535).default(4000),
    HOST: z.string().default('127.0.0.1'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** HS256 secret; a public development default only with NODE_ENV=development or test. */
    JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    /**
     * Tokens from an identity provider (RS256 or ES256); needs JWT_ISSUER and JWT_AUDIENCE. Over
     * https only (keys fetched in clear text could be swapped on the way); http to a loopback
     * address is allowed, for tests.
     */
    JWT_JWKS_URL: z
      .url()
      .refine((url) => {
        const { protocol, hostname } = new URL(url);
        return protocol === 'https:' || (protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(hostname));
      }, 'must be an https:// URL (http:// only to a loopback address)')
      .optional(),
    JWT_ISSUER: z.string().optional(),
    JWT_AUDIENCE: z.string().optional(),
    /**
     * Key of the consent evidence's HMAC (over the accepted terms and the acceptance's facts): a
     * row rewritten by someone without the key no longer verifies. Required in production; a
     * public development key otherwise.
     */
    CONSENT_HMAC_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
    /** Stored beside each HMAC, so that keys can rotate (evidence made with an old key names it). */
    CONSENT_HMAC_KEY_ID: z.string().regex(/^[\w.-]{1,64}$/, 'letters, digits, _ . - (at most 64)').default('k1'),
    /** HS256 tokens must name JWT_ISSUER and JWT_AUDIENCE (they are checked whenever set; this makes them required). */
    JWT_REQUIRE_ISSUER_AUDIENCE: flag.default(false),
    /** The longest a token may live (exp - iat), in seconds. */
    JWT_MAX_LIFETIME_S: intFrom(60).max(86_400).default(3600),
    /** Clock difference tolerated on exp/nbf/iat, in seconds (the contract allows at most 5). */
    JWT_CLOCK_TOLERANCE_S: intFrom(0).max(5).default(5),

    /** Full GraphQL documents from every caller (staging, GraphiQL); otherwise customers send persisted operations only. Default: off in production. */
    GRAPHQL_ALLOW_DOCUMENTS: flag.optional(),
    /** Introspection and field suggestions. Default: off in production. */
    GRAPHQL_EXPOSE_SCHEMA: flag.optional(),
    /** The GraphiQL page at /graphql. Default: off in production. */
    GRAPHIQL: flag.optional(),
    /** Origins that browsers may call the API from (CORS). Empty: none (the mobile app needs none). */
    CORS_ORIGINS: originList.default([]),
    /** Proxies in front of the API that append to X-Forwarded-For; 0 = use the socket's address. */
    TRUSTED_PROXIES: intFrom(0).max(10).default(0),
    /** Largest HTTP request body (413 beyond) and WebSocket message (the socket is closed beyond). */
    HTTP_MAX_BODY_BYTES: intFrom(1024).default(64 * 1024),
    /**
     * Largest HTTP request body from a credit-engine token: a batch of 1,000 offers is about
     * 150 KB, and 600 KB with every text field at its longest; 1 MiB fits it with room.
     */
    HTTP_SERVICE_MAX_BODY_BYTES: intFrom(1024).default(1024 * 1024),
    WS_MAX_PAYLOAD_BYTES: intFrom(1024).default(64 * 1024),
    /** Live subscriptions per WebSocket, and per user across all API processes. */
    MAX_SUBSCRIPTIONS_PER_SOCKET: intFrom(1).default(20),
    MAX_SUBSCRIPTIONS_PER_USER: intFrom(1).default(50),
    /** A subscription slot of an API process that died comes back after this long. */
    SUBSCRIPTION_SLOT_TTL_MS: intFrom(300).default(30_000),
    /** Rate limits (per minute), shared by the API processes through Redis. */
    RATE_LIMIT_USER_MUTATIONS_PER_MINUTE: intFrom(1).default(60),
    RATE_LIMIT_SERVICE_MUTATIONS_PER_MINUTE: intFrom(1).default(60_000),
    /** Offers per service token issued in batches (issueCreditOffers): 10,000/s, twice a campaign's target rate (docs/edge.md). */
    RATE_LIMIT_SERVICE_OFFERS_PER_MINUTE: intFrom(1).default(600_000),
    RATE_LIMIT_ANONYMOUS_PER_MINUTE: intFrom(1).default(300),
    RATE_LIMIT_WS_CONNECTS_PER_MINUTE: intFrom(1).default(120),
    /**
     * Budget of every operation a signed-in caller runs, on every transport, in points per minute:
     * each operation costs 10 plus its document's cost (the cost limit's count). At least the
     * largest document's cost (10,000), or that document could never run. Reasoning: docs/edge.md.
     */
    RATE_LIMIT_USER_BUDGET_PER_MINUTE: intFrom(10_010).default(30_000),
    /** The same for service and staff tokens (credit-engine, ops), which serve many users. */
    RATE_LIMIT_SERVICE_BUDGET_PER_MINUTE: intFrom(10_010).default(5_000_000),
    /**
     * For the bench only: edge protections to switch off, comma-separated (rate-limits,
     * document-limits, subscription-caps, token-checks), to measure what they cost against the
     * same service without them. Refused in production. Persisted-only is GRAPHQL_ALLOW_DOCUMENTS.
     */
    EDGE_PROTECTIONS_OFF: z
      .string()
      .transform((text) => [...new Set(text.split(',').map((p) => p.trim()).filter((p) => p.length > 0))])
      .pipe(z.array(z.enum(EDGE_PROTECTIONS)))
      .default([]),
    /** Persisted operations: the API processes write when each client version last used an operation this often. */
    OPERATIONS_USAGE_FLUSH_MS: intFrom(100).default(10_000),
    /** `npm run operations:retire` refuses a client version used within this many days (unless forced). */
    OPERATIONS_RETIRE_UNUSED_DAYS: intFrom(0).max(3650).default(30),
    /** Push devices a user may have; registering one more drops the oldest. */
    MAX_DEVICES_PER_USER: intFrom(1).max(1000).default(10),
    /** Caps on what the credit engine may offer. */
    OFFER_MAX_LIMIT_CENTS: intFrom(1).max(Number.MAX_SAFE_INTEGER).default(1_000_000_000),
    OFFER_MAX_RATE_BPS: intFrom(0).max(1_000_000).default(50_000),
    OFFER_MAX_EXPIRY_DAYS: intFrom(1).max(3650).default(180),
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
    /**
     * Notification jobs one worker process runs at once. Their steps are taken in batches (at most
     * four at a time per process) and a batch's first steps at most four at a time, so they share
     * connections rather than holding one each: more jobs in flight make larger batches, not more
     * connections. A job waits for the push bucket's token while it is in flight, so at the bucket's
     * rate this is what sets the batches' size (bench/README.md, a campaign).
     */
    NOTIFICATION_CONCURRENCY: intFrom(1).max(1000).default(64),
    /**
     * Deployments one transaction applies at most. The deployment jobs a worker runs at once
     * (WORKER_CONCURRENCY) are applied together, up to this many per transaction; 1 applies each alone.
     */
    DEPLOYMENT_BATCH_MAX: intFrom(1).max(1000).default(64),
    /** Batches (transactions) of one worker process in flight at once. */
    DEPLOYMENT_BATCHES_IN_FLIGHT: intFrom(1).max(32).default(2),
    /** How long a worker's lock on a job lasts without renewal: after a crash, the job is picked up again after about this long. */
    JOB_LOCK_MS: intFrom(1000).default(30_000),
    /** How often the reconciler looks for accepted deployments that have no job. */
    RECONCILE_INTERVAL_MS: intFrom(100).default(10_000),
    /** A non-final deployment this old with no job behind it is enqueued again. */
    RECONCILE_GRACE_MS: intFrom(0).default(5_000),
    /**
     * Connections per process. Default: one per deployment job the process can run at once
     * (WORKER_CONCURRENCY; a job waiting on a row lock holds one), as many again for the
     * notification worker's batches and first steps, plus DATABASE_API_CONNECTIONS for the API and
     * the reconcilers.
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
    /**
     * Push sends per minute across every worker process (a token bucket in Redis). FCM's default
     * project quota is 600,000/min, which other senders of the project may share: stay below it.
     */
    PUSH_MAX_PER_MINUTE: intFrom(1).default(500_000),
    /** How long every process stops pushing on FCM's project-level 429 when it gives no Retry-After. */
    PUSH_QUOTA_PAUSE_MS: intFrom(0).default(10_000),
    /** A device's first pause on FCM's per-device 429 (doubled on each further one); other devices go on. */
    PUSH_DEVICE_PAUSE_MS: intFrom(0).default(2_000),
    /** Whether offer pushes are on for users who never chose: a product and compliance choice (docs/notifications.md). */
    OFFER_PUSH_DEFAULT_ENABLED: flag.default(true),
    /** Pushes held for quiet hours are released spread at random over this long after the hours end. */
    QUIET_HOURS_RELEASE_SPREAD_MS: intFrom(0).default(1_800_000),
    /** An offer still PENDING this long before its expiry gets one OFFER_EXPIRING reminder (not offers that live shorter). */
    OFFER_REMINDER_BEFORE_MS: intFrom(60_000).default(86_400_000),
    /** How often offers due a reminder are looked for. */
    OFFER_REMINDER_INTERVAL_MS: intFrom(100).default(60_000),
    /**
     * The notice a limit decrease needs (Resolução BCB 96/2021 art. 10: at least 30 days), counted
     * from the notice's delivery. Days, fractions allowed (a test's short notice).
     */
    LIMIT_DECREASE_NOTICE_DAYS: z.coerce.number().positive().max(3650).default(30),
    /** A temporary increase's TEMPORARY_LIMIT_ENDING reminder goes this long before it ends. */
    TEMPORARY_LIMIT_REMINDER_BEFORE_MS: intFrom(0).default(3 * 86_400_000),
    /** How often scheduled limit changes coming due (decreases, temporary ends) are looked for in Postgres. */
    LIMIT_CHANGE_INTERVAL_MS: intFrom(100).default(15_000),
    /** Device tokens not registered again for this many days are removed (FCM: stale after a month, expired after 270 days). */
    DEVICE_STALE_AFTER_DAYS: intFrom(1).max(270).default(60),
    /** How often stale device tokens are removed. */
    DEVICE_CLEANUP_INTERVAL_MS: intFrom(100).default(3_600_000),
    /** A user counts as present while an API process refreshed their live subscription within this long. */
    PRESENCE_TTL_MS: intFrom(300).default(30_000),
    /** How often PENDING offers past their expiry are expired. */
    OFFER_EXPIRY_INTERVAL_MS: intFrom(100).default(60_000),
    /**
     * Offers the expiry sweep expires per transaction (with their notifications and outbox
     * events): small enough that its row locks are brief, large enough that a million take
     * minutes, not hours.
     */
    OFFER_EXPIRY_BATCH_SIZE: intFrom(1).max(10_000).default(500),
    /**
     * A pause between the sweep's full batches, which leaves the machine to deployments meanwhile
     * (0: none). With the sweep in a worker beside its deployments and pushes, on the 2-core
     * machine at 100,000 offers: 500 ms kept accept -> DEPLOYED p99 at 1.6x of idle (740 offers/s),
     * 200 ms gave 2.1-2.3x (bench/README.md, a campaign).
     */
    OFFER_EXPIRY_PAUSE_MS: intFrom(0).max(60_000).default(500),
    /** How often an idle outbox relay looks for unsent events (one that found some goes on at once). */
    EVENTS_RELAY_INTERVAL_MS: intFrom(5).default(200),
    /** The downstream events stream's key; default `<REDIS_PREFIX>:events`. */
    EVENTS_STREAM_KEY: z.string().min(1).optional(),
    /** About how many entries the events stream keeps (XADD MAXLEN ~): older ones are trimmed. */
    EVENTS_STREAM_MAX_LENGTH: intFrom(1000).default(1_000_000),
    /** Sent events are kept this many days for `events:replay`, then their day's partition is dropped. */
    EVENTS_RETENTION_DAYS: intFrom(1).default(7),
    /** The outbox's day partitions are created this many days ahead (by the retention job). */
    EVENTS_PARTITIONS_AHEAD_DAYS: intFrom(1).max(60).default(7),
    /** Notifications other than the notices the law requires (with their deliveries) are kept this many days. */
    NOTIFICATION_RETENTION_DAYS: intFrom(1).default(180),
    /**
     * The regulatory period, in days: consent evidence, deployment audit trails, the notices the law
     * requires with their delivery proof, and the keys that signed evidence are kept this long.
     * COMPLIANCE sets it (docs/data-retention.md); unset, regulatory records are never deleted.
     */
    REGULATORY_RETENTION_DAYS: intFrom(365).max(36_500).optional(),
    /** How often the retention job runs (once per interval across the worker processes). */
    RETENTION_INTERVAL_MS: intFrom(1000).default(3_600_000),
    /** How often the relay's lag is logged. */
    EVENTS_HOUSEKEEPING_INTERVAL_MS: intFrom(1000).default(60_000),
    /** The insights consumer's group on the events stream. */
    INSIGHTS_CONSUMER_GROUP: z.string().min(1).default('insights'),
    /** This consumer's name in its group, unique per process; default host-pid. */
    INSIGHTS_CONSUMER_NAME: z.string().min(1).optional(),
    /** Stream entries the insights consumer reads at a time. */
    INSIGHTS_BATCH: intFrom(1).max(1000).default(100),
    /** How long a read of the insights consumer waits for new entries. */
    INSIGHTS_BLOCK_MS: intFrom(10).default(2_000),
    /** An entry pending this long with another insights consumer is taken over (that one is presumed dead). */
    INSIGHTS_CLAIM_IDLE_MS: intFrom(100).default(30_000),
    /** Admin port (metrics, queue board) of a process that serves the API; never the public port. */
    API_ADMIN_PORT: intFrom(0).max(65535).default(9464),
    /** Admin port of a worker-only process (separate, so an API and a worker on one host never clash). */
    WORKER_ADMIN_PORT: intFrom(0).max(65535).default(9465),
    /** Interface of the admin port: loopback unless a scraper elsewhere must reach it. */
    ADMIN_HOST: z.string().default('127.0.0.1'),
    /**
     * When set, /metrics on the admin port needs `Authorization: Bearer <token>` (Prometheus:
     * `authorization: { credentials: ... }`). Required in production when ADMIN_HOST is not a
     * loopback address: the admin network then reaches the port.
     */
    METRICS_SCRAPE_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
    /** Traces go to this OTLP/HTTP collector (the standard OTEL_* variables); unset: tracing is off. */
    OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url().optional(),
    OTEL_SDK_DISABLED: z.stringbool().optional(),
    OTEL_SERVICE_NAME: z.string().min(1).optional(),
    /** Firebase project of the app; push is on when this and a service account are set. */
    FCM_PROJECT_ID: z.string().min(1).optional(),
    /** Path of a service account key file for FCM. */
    GOOGLE_APPLICATION_CREDENTIALS: z.string().min(1).optional(),
    /** The service account key inline (wins over GOOGLE_APPLICATION_CREDENTIALS). */
    FCM_SERVICE_ACCOUNT_JSON: serviceAccountJson.optional(),
    /**
     * An FCM-compatible HTTP endpoint (scheme://host:port) to push to instead of Google's, for
     * staging and black-box tests; the service account's OAuth token step goes to its `token_uri`.
     */
    FCM_API_URL: z.url().optional(),
    /** FCM_API_URL is refused with NODE_ENV=production unless this says so explicitly. */
    FCM_API_URL_IN_PRODUCTION: flag.default(false),
  })
  .superRefine((env, ctx) => {
    const development = env.NODE_ENV === 'development' || env.NODE_ENV === 'test';
    if (!development && (env.JWT_SECRET === DEV_JWT_SECRET || (!env.JWT_SECRET && !env.JWT_JWKS_URL))) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_SECRET'],
        message: `set JWT_SECRET or JWT_JWKS_URL: the public development secret works only with NODE_ENV=development or test (NODE_ENV is ${env.NODE_ENV})`,
      });
    }
    if (!development && (!env.CONSENT_HMAC_KEY || env.CONSENT_HMAC_KEY === DEV_CONSENT_HMAC_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: ['CONSENT_HMAC_KEY'],
        message: `set CONSENT_HMAC_KEY (e.g. openssl rand -hex 32): the public development key works only with NODE_ENV=development or test (NODE_ENV is ${env.NODE_ENV})`,
      });
    }
    if (!development && !['127.0.0.1', 'localhost', '::1'].includes(env.ADMIN_HOST) && !env.METRICS_SCRAPE_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: ['METRICS_SCRAPE_TOKEN'],
        message: `the admin port listens beyond loopback (ADMIN_HOST=${env.ADMIN_HOST}): set METRICS_SCRAPE_TOKEN (e.g. openssl rand -hex 32) so that /metrics needs it`,
      });
    }
    if (!development && env.EDGE_PROTECTIONS_OFF.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['EDGE_PROTECTIONS_OFF'],
        message: `the edge's protections are never off in production: only with NODE_ENV=development or test (NODE_ENV is ${env.NODE_ENV})`,
      });
    }
    if (env.JWT_REQUIRE_ISSUER_AUDIENCE && (!env.JWT_ISSUER || !env.JWT_AUDIENCE)) {
      ctx.addIssue({ code: 'custom', path: ['JWT_REQUIRE_ISSUER_AUDIENCE'], message: 'requiring iss and aud needs JWT_ISSUER and JWT_AUDIENCE' });
    }
    if (env.JWT_JWKS_URL && (!env.JWT_ISSUER || !env.JWT_AUDIENCE)) {
      ctx.addIssue({ code: 'custom', path: ['JWT_JWKS_URL'], message: 'tokens from a JWKS need JWT_ISSUER and JWT_AUDIENCE' });
    }
    if (env.DATABASE_POOLER === 'pgbouncer' && !env.DIRECT_DATABASE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['DIRECT_DATABASE_URL'],
        message: 'behind PgBouncer, set DIRECT_DATABASE_URL to PostgreSQL itself (for migrations and session defaults)',
      });
    }
    if (env.REGULATORY_RETENTION_DAYS !== undefined && env.REGULATORY_RETENTION_DAYS < env.NOTIFICATION_RETENTION_DAYS) {
      ctx.addIssue({
        code: 'custom',
        path: ['REGULATORY_RETENTION_DAYS'],
        message: `must be at least NOTIFICATION_RETENTION_DAYS (${env.NOTIFICATION_RETENTION_DAYS}): regulatory records outlive ordinary ones`,
      });
    }
    if (env.FCM_API_URL && env.NODE_ENV === 'production' && !env.FCM_API_URL_IN_PRODUCTION) {
      ctx.addIssue({
        code: 'custom',
        path: ['FCM_API_URL'],
        message: 'pushes would go to a stand-in for FCM, not to phones: in production set FCM_API_URL_IN_PRODUCTION=true to mean it',
      });
    }
    if (env.FCM_PROJECT_ID && !env.FCM_SERVICE_ACCOUNT_JSON && !env.GOOGLE_APPLICATION_CREDENTIALS) {
      ctx.addIssue({
        code: 'custom',
        path: ['FCM_PROJECT_ID'],
        message: 'push needs a service account: set GOOGLE_APPLICATION_CREDENTIALS or FCM_SERVICE_ACCOUNT_JSON',
      });
    }
  })
  .transform((env) => {
    // Development conveniences default to on only where NODE_ENV says development or test.
    const development = env.NODE_ENV !== 'production';
    return {
      ...env,
      JWT_SECRET: env.JWT_SECRET ?? DEV_JWT_SECRET,
      CONSENT_HMAC_KEY: env.CONSENT_HMAC_KEY ?? DEV_CONSENT_HMAC_KEY,
      GRAPHQL_ALLOW_DOCUMENTS: env.GRAPHQL_ALLOW_DOCUMENTS ?? development,
      GRAPHQL_EXPOSE_SCHEMA: env.GRAPHQL_EXPOSE_SCHEMA ?? development,
      GRAPHIQL: env.GRAPHIQL ?? development,
    };
  });

export type Config = z.output<typeof schema>;

/**
 * Connections of one process's pool: the configured size, or one per deployment job its worker can
 * run at once (WORKER_CONCURRENCY), as many for the notification worker (whose jobs share their
 * batches' statements: NOTIFICATION_CONCURRENCY adds none), plus the API's and reconcilers' share.
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

/** The database URL alone, as the service reads it: for the Prisma CLI (generate, migrate). */
/** Where migrations go: PostgreSQL itself (DIRECT_DATABASE_URL) when set, else DATABASE_URL. */
export function loadMigrationDatabaseUrl(env: Record<string, string | undefined> = process.env): string {
  if (!env.DIRECT_DATABASE_URL) return loadDatabaseUrl(env);
  const result = databaseUrl.safeParse(env.DIRECT_DATABASE_URL);
  if (result.success) return result.data;
  console.error('Invalid configuration:\n  DIRECT_DATABASE_URL: must be a URL');
  process.exit(1);
}

export function loadDatabaseUrl(env: Record<string, string | undefined> = process.env): string {
  const result = databaseUrl.safeParse(env.DATABASE_URL || undefined);
  if (result.success) return result.data;
  console.error('Invalid configuration:\n  DATABASE_URL: must be a URL');
  process.exit(1);
}
