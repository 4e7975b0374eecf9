// The configuration (one flat, validated set of environment variables: platform/config.ts) as the
// nested settings objects each part of the service is given. With main.ts and service.ts, the only
// reader of the configuration: made once by the entry, passed down.
import type { AuthSettings } from './api/auth.ts';
import { CONTRACT_LIMITS } from './api/document-limits.ts';
import type { RateLimitSettings } from './api/rate-limits.ts';
import type { EdgeSettings } from './api/server.ts';
import type { InsightsConsumerSettings } from './events/insights-consumer.ts';
import type { OutboxRelaySettings } from './events/outbox-relay.ts';
import { eventStreamKey, type EventStreamSettings } from './events/stream-publisher.ts';
import type { OfferExpirySettings } from './domain/offer-expiry.ts';
import type { BatchSettings } from './jobs/batches.ts';
import type { RetentionSettings } from './jobs/retention.ts';
import type { DeploymentRetrySettings, QueueSettings, RetrySettings } from './jobs/queues.ts';
import { databasePoolSize, type Config, type EdgeProtection } from './platform/config.ts';
import type { DatabaseSettings } from './platform/db.ts';
import type { Logger } from './platform/logger.ts';
import type { RedisSettings } from './platform/redis.ts';
import type { FirebaseSettings } from './push/firebase.ts';
import { DEFAULT_PACING, type PacedSenderSettings } from './push/paced-sender.ts';

/** The database settings of the configuration, for a process that runs the workers or not. */
export function databaseSettings(config: Config, worker = true): DatabaseSettings {
  return {
    url: config.DATABASE_URL,
    poolSize: databasePoolSize(config, worker),
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
    lockTimeoutMs: config.DATABASE_LOCK_TIMEOUT_MS,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    pgbouncer: config.DATABASE_POOLER === 'pgbouncer',
    directUrl: config.DIRECT_DATABASE_URL,
  };
}

/** The Redis settings of the configuration: a Redis Cluster when its nodes are set, else REDIS_URL. */
export function redisSettings(config: Config, logger: Logger): RedisSettings {
  return { url: config.REDIS_URL, clusterNodes: config.REDIS_CLUSTER_NODES, logger };
}

/** The events stream of the configuration. */
export function eventStreamSettings(config: Config): EventStreamSettings {
  return { key: config.EVENTS_STREAM_KEY ?? eventStreamKey(config.REDIS_PREFIX), maxLength: config.EVENTS_STREAM_MAX_LENGTH };
}

/** Push through FCM: a project and a service account (inline JSON, or a key file); without them push is off. */
export function pushSettings(config: Config): FirebaseSettings {
  return {
    projectId: config.FCM_PROJECT_ID,
    serviceAccount: config.FCM_SERVICE_ACCOUNT_JSON ?? config.GOOGLE_APPLICATION_CREDENTIALS,
    apiUrl: config.FCM_API_URL,
  };
}

/** Everything a process of the service is given, by part. */
export interface ServiceSettings {
  production: boolean;
  database: DatabaseSettings;
  redis: RedisSettings;
  /** Where the queues live (every process holds them: workers consume them, admin servers show them). */
  queues: QueueSettings;
  /** Prefix of every Redis key and channel of this service. */
  prefix: string;
  presence: { ttlMs: number };
  http: {
    port: number;
    host: string;
    adminHost: string;
    apiAdminPort: number;
    workerAdminPort: number;
    /** When set, an admin port's /metrics needs it as a bearer token. */
    metricsScrapeToken: string | null;
  };
  /** Seals the consent evidence of every acceptance (HMAC), with the key's id stored beside it. */
  consentKey: { id: string; secret: string };
  auth: AuthSettings;
  edge: {
    settings: EdgeSettings;
    /** Null: rate limits switched off (the bench's on/off comparison only). */
    rateLimits: RateLimitSettings | null;
    subscriptionSlotTtlMs: number;
    /** Protections switched off (EDGE_PROTECTIONS_OFF): said at start. */
    off: readonly EdgeProtection[];
  };
  offers: { maxLimitCents: number; maxRateBps: number; maxExpiryDays: number };
  /** Limit decreases and temporary increases (docs/limit-changes.md). */
  limitChanges: { noticeMs: number; temporaryReminderBeforeMs: number; intervalMs: number };
  /** Persisted operations: how often each API process writes when a client version last used an operation. */
  operations: { usageFlushMs: number };
  maxDevicesPerUser: number;
  deployments: { retry: DeploymentRetrySettings; batch: BatchSettings };
  workers: {
    /** Deployment jobs a worker process runs at once. */
    concurrency: number;
    /** Notification jobs a worker process runs at once (their steps are batched). */
    notificationConcurrency: number;
    jobLockMs: number;
    reconcileIntervalMs: number;
    reconcileGraceMs: number;
    offerExpiryIntervalMs: number;
    /** How the expiry sweep cuts its work: batch size, pause between batches. */
    offerExpiry: OfferExpirySettings;
  };
  notifications: {
    retry: RetrySettings;
    pushFallbackAfterMs: number;
    offersPushDefault: boolean;
    quietHoursReleaseSpreadMs: number;
    offerReminderBeforeMs: number;
    offerReminderIntervalMs: number;
    deviceStaleAfterMs: number;
    deviceCleanupIntervalMs: number;
  };
  push: FirebaseSettings;
  /** One send rate shared by every worker process (a Redis token bucket), and how quota answers slow it. */
  pushPacing: PacedSenderSettings & { maxPerMinute: number };
  events: { stream: EventStreamSettings; relay: OutboxRelaySettings };
  /** What is kept, for how long (docs/data-retention.md), and how often the worker trims. */
  retention: RetentionSettings;
  insights: Omit<InsightsConsumerSettings, 'consumer' | 'key'> & { consumer: string | undefined };
}

export function serviceSettings(config: Config, logger: Logger, worker: boolean): ServiceSettings {
  const on = (protection: EdgeProtection) => !config.EDGE_PROTECTIONS_OFF.includes(protection);
  const redis = redisSettings(config, logger);
  return {
    production: config.NODE_ENV === 'production',
    database: databaseSettings(config, worker),
    redis,
    queues: { redis, prefix: config.REDIS_PREFIX },
    prefix: config.REDIS_PREFIX,
    presence: { ttlMs: config.PRESENCE_TTL_MS },
    http: {
      port: config.PORT,
      host: config.HOST,
      adminHost: config.ADMIN_HOST,
      apiAdminPort: config.API_ADMIN_PORT,
      workerAdminPort: config.WORKER_ADMIN_PORT,
      metricsScrapeToken: config.METRICS_SCRAPE_TOKEN ?? null,
    },
    consentKey: { id: config.CONSENT_HMAC_KEY_ID, secret: config.CONSENT_HMAC_KEY },
    auth: {
      jwtSecret: config.JWT_SECRET,
      jwksUrl: config.JWT_JWKS_URL,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      maxLifetimeSeconds: config.JWT_MAX_LIFETIME_S,
      requireIssuerAudience: config.JWT_REQUIRE_ISSUER_AUDIENCE,
      clockToleranceSeconds: config.JWT_CLOCK_TOLERANCE_S,
      tokenChecks: on('token-checks'),
    },
    edge: {
      settings: {
        limits: { ...CONTRACT_LIMITS, exposeSchema: config.GRAPHQL_EXPOSE_SCHEMA },
        allowDocuments: config.GRAPHQL_ALLOW_DOCUMENTS,
        graphiql: config.GRAPHIQL,
        corsOrigins: config.CORS_ORIGINS,
        trustedProxies: config.TRUSTED_PROXIES,
        maxBodyBytes: config.HTTP_MAX_BODY_BYTES,
        maxServiceBodyBytes: config.HTTP_SERVICE_MAX_BODY_BYTES,
        maxWsPayloadBytes: config.WS_MAX_PAYLOAD_BYTES,
        maxSubscriptionsPerSocket: config.MAX_SUBSCRIPTIONS_PER_SOCKET,
        maxSubscriptionsPerUser: config.MAX_SUBSCRIPTIONS_PER_USER,
        documentLimits: on('document-limits'),
        subscriptionCaps: on('subscription-caps'),
        streamsFollowTokens: on('token-checks'),
      },
      rateLimits: on('rate-limits')
        ? {
            userMutationsPerMinute: config.RATE_LIMIT_USER_MUTATIONS_PER_MINUTE,
            serviceMutationsPerMinute: config.RATE_LIMIT_SERVICE_MUTATIONS_PER_MINUTE,
            serviceOffersPerMinute: config.RATE_LIMIT_SERVICE_OFFERS_PER_MINUTE,
            anonymousRequestsPerMinute: config.RATE_LIMIT_ANONYMOUS_PER_MINUTE,
            webSocketConnectsPerMinute: config.RATE_LIMIT_WS_CONNECTS_PER_MINUTE,
            userBudgetPerMinute: config.RATE_LIMIT_USER_BUDGET_PER_MINUTE,
            serviceBudgetPerMinute: config.RATE_LIMIT_SERVICE_BUDGET_PER_MINUTE,
          }
        : null,
      subscriptionSlotTtlMs: config.SUBSCRIPTION_SLOT_TTL_MS,
      off: config.EDGE_PROTECTIONS_OFF,
    },
    offers: { maxLimitCents: config.OFFER_MAX_LIMIT_CENTS, maxRateBps: config.OFFER_MAX_RATE_BPS, maxExpiryDays: config.OFFER_MAX_EXPIRY_DAYS },
    maxDevicesPerUser: config.MAX_DEVICES_PER_USER,
    limitChanges: {
      noticeMs: Math.round(config.LIMIT_DECREASE_NOTICE_DAYS * 86_400_000),
      temporaryReminderBeforeMs: config.TEMPORARY_LIMIT_REMINDER_BEFORE_MS,
      intervalMs: config.LIMIT_CHANGE_INTERVAL_MS,
    },
    operations: { usageFlushMs: config.OPERATIONS_USAGE_FLUSH_MS },
    deployments: {
      retry: {
        backoffMs: config.DEPLOYMENT_BACKOFF_MS,
        maxBackoffMs: config.DEPLOYMENT_BACKOFF_MAX_MS,
        retryHorizonMs: config.DEPLOYMENT_RETRY_HORIZON_MS,
      },
      batch: { maxBatch: config.DEPLOYMENT_BATCH_MAX, maxInFlight: config.DEPLOYMENT_BATCHES_IN_FLIGHT },
    },
    workers: {
      concurrency: config.WORKER_CONCURRENCY,
      notificationConcurrency: config.NOTIFICATION_CONCURRENCY,
      jobLockMs: config.JOB_LOCK_MS,
      reconcileIntervalMs: config.RECONCILE_INTERVAL_MS,
      reconcileGraceMs: config.RECONCILE_GRACE_MS,
      offerExpiryIntervalMs: config.OFFER_EXPIRY_INTERVAL_MS,
      offerExpiry: { batchSize: config.OFFER_EXPIRY_BATCH_SIZE, pauseMs: config.OFFER_EXPIRY_PAUSE_MS },
    },
    notifications: {
      retry: { attempts: config.PUSH_ATTEMPTS, backoffMs: config.PUSH_BACKOFF_MS },
      pushFallbackAfterMs: config.PUSH_FALLBACK_AFTER_MS,
      offersPushDefault: config.OFFER_PUSH_DEFAULT_ENABLED,
      quietHoursReleaseSpreadMs: config.QUIET_HOURS_RELEASE_SPREAD_MS,
      offerReminderBeforeMs: config.OFFER_REMINDER_BEFORE_MS,
      offerReminderIntervalMs: config.OFFER_REMINDER_INTERVAL_MS,
      deviceStaleAfterMs: config.DEVICE_STALE_AFTER_DAYS * 86_400_000,
      deviceCleanupIntervalMs: config.DEVICE_CLEANUP_INTERVAL_MS,
    },
    push: pushSettings(config),
    pushPacing: {
      maxPerMinute: config.PUSH_MAX_PER_MINUTE,
      quotaPauseMs: config.PUSH_QUOTA_PAUSE_MS,
      devicePauseMs: config.PUSH_DEVICE_PAUSE_MS,
      maxQuotaAnswers: DEFAULT_PACING.maxQuotaAnswers,
    },
    events: {
      stream: eventStreamSettings(config),
      relay: {
        intervalMs: config.EVENTS_RELAY_INTERVAL_MS,
        housekeepingMs: config.EVENTS_HOUSEKEEPING_INTERVAL_MS,
      },
    },
    retention: {
      intervalMs: config.RETENTION_INTERVAL_MS,
      eventsRetentionDays: config.EVENTS_RETENTION_DAYS,
      notificationRetentionDays: config.NOTIFICATION_RETENTION_DAYS,
      regulatoryRetentionDays: config.REGULATORY_RETENTION_DAYS ?? null,
      partitionDaysAhead: config.EVENTS_PARTITIONS_AHEAD_DAYS,
    },
    insights: {
      group: config.INSIGHTS_CONSUMER_GROUP,
      consumer: config.INSIGHTS_CONSUMER_NAME,
      batch: config.INSIGHTS_BATCH,
      blockMs: config.INSIGHTS_BLOCK_MS,
      claimIdleMs: config.INSIGHTS_CLAIM_IDLE_MS,
    },
  };
}
