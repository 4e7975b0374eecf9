// Starts the parts of the service a process runs (API, worker, both, or the insights consumer)
// and stops them in order.
// With main.ts, the only reader of the configuration: everything below is given its values.
import { once } from 'node:events';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { Messaging } from 'firebase-admin/messaging';
import { createAdminServer } from './api/admin-server.ts';
import { createAuthenticator } from './api/auth.ts';
import { CONTRACT_LIMITS } from './api/document-limits.ts';
import { redisAdminSessions } from './api/admin-sessions.ts';
import { RateLimits } from './api/rate-limits.ts';
import { createApiServer, type EdgeSettings } from './api/server.ts';
import { retryRefusal } from './domain/deployments.ts';
import { startNotificationWorker } from './jobs/notification-worker.ts';
import { startOutboxRelay } from './events/outbox-relay.ts';
import { watchQueues } from './jobs/queue-metrics.ts';
import {
  closeQueue,
  createDeploymentQueue,
  createNotificationQueue,
  createOfferExpiryQueue,
  DEPLOYMENT_QUEUE,
  type DeploymentQueue,
  type NotificationQueue,
  type OfferExpiryQueue,
  type QueueSettings,
} from './jobs/queues.ts';
import { startDeploymentWorker } from './jobs/deployment-worker.ts';
import { databasePoolSize, loadConfig, type Config, type EdgeProtection } from './platform/config.ts';
import { applySessionDefaults, connectDatabase, databaseReady, type DatabaseSettings } from './platform/db.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import { rateLimitRefusals, scrape } from './platform/metrics.ts';
import { closeRedis, createRedis, evictionPolicy, isCluster, type RedisSettings } from './platform/redis.ts';
import { createPushSender } from './push/push-sender.ts';
import { eventStreamKey, eventStreamPublisher, type EventStreamSettings } from './events/stream-publisher.ts';
import { Presence } from './realtime/presence.ts';
import { LiveUpdates } from './realtime/live-updates.ts';
import { SubscriptionQuota } from './realtime/subscription-quota.ts';

export interface ServiceOptions {
  api: boolean;
  /** The deployment and notification workers and the outbox relay. */
  worker: boolean;
  /** The insights consumer of the events stream (docs/events.md). */
  insights?: boolean;
  port?: number;
  host?: string;
  /** The Firebase Messaging that pushes go through; null turns push off. Default: from the configuration. */
  messaging?: Messaging | null;
  /** Default: the environment's. */
  config?: Config;
  /** Default: one at the configured level. */
  logger?: Logger;
  /** Port of the admin server (metrics, queue board). Default: API_ADMIN_PORT, or WORKER_ADMIN_PORT in a worker-only process. */
  adminPort?: number;
}

export interface RunningService {
  /** Base URL of the API, when this process serves it. */
  url: string | null;
  /** The outbox relay's lag (age of the oldest unsent event, ms), when this process runs a worker: for metrics. */
  eventRelayLagMs: (() => Promise<number>) | null;
  /** Base URL of the admin server: /metrics, /board, /manage. */
  adminUrl: string;
  close(): Promise<void>;
}

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

/**
 * BullMQ's keys must never be evicted (an evicted job is a lost deployment): any other
 * maxmemory-policy stops a production start and is warned about elsewhere, with the fix.
 * A Redis that does not answer within 2 s (or hides CONFIG) is not waited for: warned about.
 */
export async function checkRedisEvictionPolicy(config: Config, logger: Logger): Promise<void> {
  const redis = createRedis('publisher', redisSettings(config, logger));
  try {
    const policy = await Promise.race([evictionPolicy(redis), new Promise<null>((resolve) => setTimeout(resolve, 2_000, null).unref())]);
    if (policy === 'noeviction') return;
    if (policy === null) {
      logger.warn('could not read the Redis maxmemory-policy; it must be noeviction, or queued jobs can be evicted and lost');
      return;
    }
    const message =
      `Redis maxmemory-policy is "${policy}": Redis may evict the queues' keys and lose jobs. ` +
      'Fix: CONFIG SET maxmemory-policy noeviction (and set it in redis.conf or the managed service\'s parameters).';
    if (config.NODE_ENV === 'production') throw new Error(message);
    logger.warn({ maxmemoryPolicy: policy }, message);
  } finally {
    await closeRedis(redis);
  }
}

/** The events stream of the configuration. */
export function eventStreamSettings(config: Config): EventStreamSettings {
  return { key: config.EVENTS_STREAM_KEY ?? eventStreamKey(config.REDIS_PREFIX), maxLength: config.EVENTS_STREAM_MAX_LENGTH };
}

/** The Redis settings of the configuration: a Redis Cluster when its nodes are set, else REDIS_URL. */
export function redisSettings(config: Config, logger: Logger): RedisSettings {
  return { url: config.REDIS_URL, clusterNodes: config.REDIS_CLUSTER_NODES, logger };
}

export async function startService(options: ServiceOptions): Promise<RunningService> {
  const config = options.config ?? loadConfig();
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const { api, worker, port = config.PORT, host = config.HOST } = options;
  await checkRedisEvictionPolicy(config, logger);
  const database = databaseSettings(config, worker);
  await applySessionDefaults(database);
  connectDatabase(database);
  const redis = redisSettings(config, logger);
  const queues: QueueSettings = { redis, prefix: config.REDIS_PREFIX };
  const liveUpdates = new LiveUpdates({ ...redis, prefix: config.REDIS_PREFIX });
  const presenceConnection = createRedis('publisher', redis);
  const presence = new Presence(presenceConnection, {
    prefix: config.REDIS_PREFIX,
    ttlMs: config.PRESENCE_TTL_MS,
    cluster: isCluster(redis),
    logger,
  });
  const deploymentQueue = createDeploymentQueue(queues, {
    backoffMs: config.DEPLOYMENT_BACKOFF_MS,
    maxBackoffMs: config.DEPLOYMENT_BACKOFF_MAX_MS,
    retryHorizonMs: config.DEPLOYMENT_RETRY_HORIZON_MS,
  });
  const caps = {
    offers: { maxLimitCents: config.OFFER_MAX_LIMIT_CENTS, maxRateBps: config.OFFER_MAX_RATE_BPS, maxExpiryDays: config.OFFER_MAX_EXPIRY_DAYS },
    maxDevicesPerUser: config.MAX_DEVICES_PER_USER,
  };
  // Every process holds the three queues: the workers consume them, and the admin server shows
  // them (board, queue gauges) whichever process it runs in.
  const notificationQueue = createNotificationQueue(queues, { attempts: config.PUSH_ATTEMPTS, backoffMs: config.PUSH_BACKOFF_MS });
  const offerExpiryQueue = createOfferExpiryQueue(queues);
  const allQueues = [deploymentQueue, notificationQueue, offerExpiryQueue];
  const unwatchQueues = watchQueues(allQueues);
  const consentKey = { id: config.CONSENT_HMAC_KEY_ID, secret: config.CONSENT_HMAC_KEY };
  const services = { liveUpdates, deploymentQueue, presence, caps, consentKey };
  const authenticate = createAuthenticator({
    jwtSecret: config.JWT_SECRET,
    jwksUrl: config.JWT_JWKS_URL,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    maxLifetimeSeconds: config.JWT_MAX_LIFETIME_S,
    requireIssuerAudience: config.JWT_REQUIRE_ISSUER_AUDIENCE,
    clockToleranceSeconds: config.JWT_CLOCK_TOLERANCE_S,
    tokenChecks: !config.EDGE_PROTECTIONS_OFF.includes('token-checks'),
  });

  const workers = worker
    ? await startWorkers(config, logger, options.messaging, { deploymentQueue, notificationQueue, offerExpiryQueue, liveUpdates, presence })
    : null;
  const insights = options.insights ? await startInsights(config, logger) : null;
  const edge = api ? await startEdge(config, logger) : null;
  const apiServer = edge
    ? createApiServer({
        services,
        logger,
        authenticate,
        ...edge.deps,
        ready: async () => (await databaseReady()) && (await liveUpdates.ping()),
      })
    : null;
  const adminServer = createAdminServer({
    scrape,
    queues: allQueues,
    authenticate,
    retryRefusal: async (queueName, jobId) => (queueName === DEPLOYMENT_QUEUE ? retryRefusal(jobId) : null),
    logger,
    sessions: redisAdminSessions(presenceConnection, config.REDIS_PREFIX),
    scrapeToken: config.METRICS_SCRAPE_TOKEN ?? null,
  });
  const url = apiServer ? await apiServer.listen(port, host) : null;
  const adminPort = options.adminPort ?? (api ? config.API_ADMIN_PORT : config.WORKER_ADMIN_PORT);
  const adminUrl = await adminServer.listen(adminPort, config.ADMIN_HOST).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EADDRINUSE') throw error;
    // A second API or worker on the same host: it needs an admin port of its own.
    throw new Error(`the admin port ${adminPort} is in use: set ${api ? 'API_ADMIN_PORT' : 'WORKER_ADMIN_PORT'} to another port (0 picks a free one)`);
  });
  logger.info({ url, adminUrl, worker, insights: Boolean(insights) }, 'service started');

  return {
    url,
    adminUrl,
    eventRelayLagMs: workers?.eventRelayLagMs ?? null,
    async close() {
      // Stop taking requests and end subscriptions, let running jobs finish, then close connections.
      await apiServer?.close();
      await adminServer.close();
      unwatchQueues();
      await edge?.close();
      await presence.close();
      await workers?.close();
      await insights?.close();
      await Promise.all(allQueues.map((queue) => closeQueue(queue)));
      await closeRedis(presenceConnection);
      await liveUpdates.close();
      logger.info('service stopped');
    },
  };
}

/** The public edge's settings and its Redis-backed counters (rate limits, subscription slots). */
async function startEdge(config: Config, logger: Logger) {
  const on = (protection: EdgeProtection) => !config.EDGE_PROTECTIONS_OFF.includes(protection);
  if (config.EDGE_PROTECTIONS_OFF.length > 0) {
    logger.warn({ off: config.EDGE_PROTECTIONS_OFF }, 'edge protections switched off (EDGE_PROTECTIONS_OFF: for the bench only)');
  }
  // Fail-fast commands (no offline queue): with Redis down, limits let requests through at once.
  const redis = redisSettings(config, logger);
  const connection = createRedis('producer', redis);
  // Counted from the first request: wait (a little) for the connection, so as not to fail open at start.
  await Promise.race([once(connection, 'ready'), delay(2000, undefined, { ref: false })]);
  const rateLimits = on('rate-limits')
    ? new RateLimits(
        connection,
        config.REDIS_PREFIX,
        {
          userMutationsPerMinute: config.RATE_LIMIT_USER_MUTATIONS_PER_MINUTE,
          serviceMutationsPerMinute: config.RATE_LIMIT_SERVICE_MUTATIONS_PER_MINUTE,
          anonymousRequestsPerMinute: config.RATE_LIMIT_ANONYMOUS_PER_MINUTE,
          webSocketConnectsPerMinute: config.RATE_LIMIT_WS_CONNECTS_PER_MINUTE,
          userBudgetPerMinute: config.RATE_LIMIT_USER_BUDGET_PER_MINUTE,
          serviceBudgetPerMinute: config.RATE_LIMIT_SERVICE_BUDGET_PER_MINUTE,
        },
        {
          // Every refusal passes here: the one place to count them.
          refused: ({ limit, key, retryAfterSeconds }) => {
            rateLimitRefusals.inc({ limit });
            logger.warn({ limit, key, retryAfterSeconds }, 'rate limited');
          },
          failingOpen: (error) => logger.error({ err: error }, 'rate limits cannot reach Redis: requests pass unlimited until it answers'),
          recovered: () => logger.info('rate limits reach Redis again'),
        },
      )
    : null;
  const subscriptionQuota = new SubscriptionQuota(connection, {
    prefix: config.REDIS_PREFIX,
    maxPerUser: config.MAX_SUBSCRIPTIONS_PER_USER,
    ttlMs: config.SUBSCRIPTION_SLOT_TTL_MS,
    cluster: isCluster(redis),
    onError: (error) => logger.warn({ err: error }, 'subscription slots cannot reach Redis: subscriptions pass uncounted'),
  });
  const edge: EdgeSettings = {
    limits: { ...CONTRACT_LIMITS, exposeSchema: config.GRAPHQL_EXPOSE_SCHEMA },
    allowDocuments: config.GRAPHQL_ALLOW_DOCUMENTS,
    graphiql: config.GRAPHIQL,
    corsOrigins: config.CORS_ORIGINS,
    trustedProxies: config.TRUSTED_PROXIES,
    maxBodyBytes: config.HTTP_MAX_BODY_BYTES,
    maxWsPayloadBytes: config.WS_MAX_PAYLOAD_BYTES,
    maxSubscriptionsPerSocket: config.MAX_SUBSCRIPTIONS_PER_SOCKET,
    maxSubscriptionsPerUser: config.MAX_SUBSCRIPTIONS_PER_USER,
    documentLimits: on('document-limits'),
    subscriptionCaps: on('subscription-caps'),
    streamsFollowTokens: on('token-checks'),
  };
  return {
    deps: { edge, rateLimits, subscriptionQuota },
    async close() {
      await subscriptionQuota.close();
      await closeRedis(connection);
    },
  };
}

interface Shared {
  deploymentQueue: DeploymentQueue;
  notificationQueue: NotificationQueue;
  offerExpiryQueue: OfferExpiryQueue;
  liveUpdates: LiveUpdates;
  presence: Presence;
}

/** The deployment and notification workers, and push (said once here when it is off). */
async function startWorkers(config: Config, logger: Logger, messaging: Messaging | null | undefined, shared: Shared) {
  const { deploymentQueue, notificationQueue, offerExpiryQueue, liveUpdates, presence } = shared;
  // firebase-admin (about 15 MiB) is loaded by the processes that push, not by an API alone.
  const firebase = messaging === undefined ? (await import('./push/firebase.ts')).firebasePushFromConfig(config) : null;
  const push = createPushSender(messaging === undefined ? (firebase?.messaging ?? null) : messaging);
  if (push.disabledReason) logger.warn({ reason: push.disabledReason }, 'push notifications are off: deliveries that need a push are recorded SKIPPED');
  else logger.info({ projectId: config.FCM_PROJECT_ID }, 'push notifications through FCM');

  const queues: QueueSettings = { redis: redisSettings(config, logger), prefix: config.REDIS_PREFIX };
  const settings = {
    ...queues,
    concurrency: config.WORKER_CONCURRENCY,
    jobLockMs: config.JOB_LOCK_MS,
    reconcileIntervalMs: config.RECONCILE_INTERVAL_MS,
    reconcileGraceMs: config.RECONCILE_GRACE_MS,
    retryHorizonMs: config.DEPLOYMENT_RETRY_HORIZON_MS,
    batch: { maxBatch: config.DEPLOYMENT_BATCH_MAX, maxInFlight: config.DEPLOYMENT_BATCHES_IN_FLIGHT },
  };
  const delivery = {
    liveUpdates,
    presence,
    push,
    fallbackMs: config.PUSH_FALLBACK_AFTER_MS,
    logger: logger.child({ component: 'notification-worker' }),
  };
  const deploymentWorker = startDeploymentWorker({ queue: deploymentQueue, notificationQueue, liveUpdates, delivery, logger, settings });
  const notificationWorker = startNotificationWorker({
    notificationQueue,
    offerExpiryQueue,
    liveUpdates,
    presence,
    push,
    logger,
    settings: { ...settings, pushFallbackAfterMs: config.PUSH_FALLBACK_AFTER_MS, offerExpiryIntervalMs: config.OFFER_EXPIRY_INTERVAL_MS },
  });
  const relayConnection = createRedis('publisher', queues.redis);
  const relay = startOutboxRelay(
    eventStreamPublisher(relayConnection, eventStreamSettings(config)),
    {
      intervalMs: config.EVENTS_RELAY_INTERVAL_MS,
      retentionMs: config.EVENTS_RETENTION_DAYS * 86_400_000,
      housekeepingMs: config.EVENTS_HOUSEKEEPING_INTERVAL_MS,
    },
    logger,
  );
  return {
    eventRelayLagMs: relay.lagMs,
    async close() {
      await Promise.all([deploymentWorker.close(), notificationWorker.close(), relay.stop()]);
      await closeRedis(relayConnection);
      await firebase?.close();
    },
  };
}

/** The insights consumer (an example downstream service) on its own blocking connection. */
async function startInsights(config: Config, logger: Logger) {
  // Loaded only by the processes that run it (its schema validator costs start-up time elsewhere).
  const { startInsightsConsumer } = await import('./events/insights-consumer.ts');
  const connection = createRedis('worker', redisSettings(config, logger));
  const consumer = startInsightsConsumer(
    connection,
    {
      key: eventStreamSettings(config).key,
      group: config.INSIGHTS_CONSUMER_GROUP,
      consumer: config.INSIGHTS_CONSUMER_NAME ?? `${hostname()}-${process.pid}`,
      batch: config.INSIGHTS_BATCH,
      blockMs: config.INSIGHTS_BLOCK_MS,
      claimIdleMs: config.INSIGHTS_CLAIM_IDLE_MS,
    },
    logger,
  );
  return {
    async close() {
      await consumer.stop();
      await closeRedis(connection);
    },
  };
}
