// Starts the parts of the service a process runs (API, worker, both, or the insights consumer)
// and stops them in order: wiring only. The configuration becomes settings in settings.ts; each
// part is given its own.
import { once } from 'node:events';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { Messaging } from 'firebase-admin/messaging';
import { createAdminServer } from './api/admin-server.ts';
import { createAuthenticator } from './api/auth.ts';
import { redisAdminSessions } from './api/admin-sessions.ts';
import { RateLimits } from './api/rate-limits.ts';
import { createApiServer, type EdgeSettings } from './api/server.ts';
import { retryRefusal } from './api/retry-refusal.ts';
import { PersistedOperations } from './api/persisted-operations.ts';
import { registerFirstPartyUntilDone, registerManifest } from './api/register-operations.ts';
import { operationsEndpoint } from './api/operations-endpoint.ts';
import type { ClientVersion } from './domain/operation-registry.ts';
import { startNotificationWorker } from './jobs/notification-worker.ts';
import { startOutboxRelay } from './events/outbox-relay.ts';
import { startPeriodic } from './jobs/periodic.ts';
import { createRetentionJob } from './jobs/retention.ts';
import { eventStreamPublisher, eventStreamTrimmer } from './events/stream-publisher.ts';
import { createAfterCommit } from './jobs/after-commit.ts';
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
} from './jobs/queues.ts';
import { startDeploymentWorker } from './jobs/deployment-worker.ts';
import { loadConfig, type Config } from './platform/config.ts';
import { applySessionDefaults, connectDatabase, databaseReady } from './platform/db.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import { rateLimitRefusals, scrape } from './platform/metrics.ts';
import { checkEvictionPolicy, closeRedis, createRedis, isCluster, type RedisClient } from './platform/redis.ts';
import { createPushSender } from './push/push-sender.ts';
import { pacedPushSender } from './push/paced-sender.ts';
import { PushBucket } from './push/push-bucket.ts';
import { watchPushBucket } from './push/push-bucket-metrics.ts';
import { Presence } from './realtime/presence.ts';
import { LiveUpdates } from './realtime/live-updates.ts';
import { SubscriptionQuota } from './realtime/subscription-quota.ts';
import { serviceSettings, type ServiceSettings } from './settings.ts';

export { databaseSettings, eventStreamSettings, redisSettings } from './settings.ts';

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

export async function startService(options: ServiceOptions): Promise<RunningService> {
  const config = options.config ?? loadConfig();
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const settings = serviceSettings(config, logger, options.worker);
  const { api, worker, port = settings.http.port, host = settings.http.host } = options;
  await checkEvictionPolicy(settings.redis, settings.production);
  await applySessionDefaults(settings.database);
  connectDatabase(settings.database);
  const liveUpdates = new LiveUpdates({ ...settings.redis, prefix: settings.prefix });
  const presenceConnection = createRedis('publisher', settings.redis);
  const presence = new Presence(presenceConnection, {
    prefix: settings.prefix,
    ttlMs: settings.presence.ttlMs,
    cluster: isCluster(settings.redis),
    logger,
  });
  // Every process holds the three queues: the workers consume them, and the admin server shows
  // them (board, queue gauges) whichever process it runs in.
  const deploymentQueue = createDeploymentQueue(settings.queues, settings.deployments.retry);
  const notificationQueue = createNotificationQueue(settings.queues, settings.notifications.retry);
  const offerExpiryQueue = createOfferExpiryQueue(settings.queues);
  const allQueues = [deploymentQueue, notificationQueue, offerExpiryQueue];
  const unwatchQueues = watchQueues(allQueues);
  const caps = { offers: settings.offers, maxDevicesPerUser: settings.maxDevicesPerUser };
  const services = {
    liveUpdates,
    deploymentQueue,
    notificationQueue,
    presence,
    caps,
    notifications: { offersPushDefault: settings.notifications.offersPushDefault },
    consentKey: settings.consentKey,
    limitChanges: { noticeMs: settings.limitChanges.noticeMs },
  };
  const authenticate = createAuthenticator(settings.auth);

  const workers = worker
    ? await startWorkers(settings, logger, options.messaging, { deploymentQueue, notificationQueue, offerExpiryQueue, liveUpdates, presence })
    : null;
  const insights = options.insights ? await startInsights(settings, logger) : null;
  const edge = api ? await startEdge(settings, logger) : null;
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
    routes: edge ? { '/operations': operationsEndpoint({ authenticate, register: edge.registerOperations, logger }) } : {},
    sessions: redisAdminSessions(presenceConnection, settings.prefix),
    scrapeToken: settings.http.metricsScrapeToken,
  });
  const url = apiServer ? await apiServer.listen(port, host) : null;
  const adminPort = options.adminPort ?? (api ? settings.http.apiAdminPort : settings.http.workerAdminPort);
  const adminUrl = await adminServer.listen(adminPort, settings.http.adminHost).catch((error: NodeJS.ErrnoException) => {
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

/** The public edge's Redis-backed counters (rate limits, subscription slots). */
async function startEdge(settings: ServiceSettings, logger: Logger) {
  const { edge } = settings;
  if (edge.off.length > 0) logger.warn({ off: edge.off }, 'edge protections switched off (EDGE_PROTECTIONS_OFF: for the bench only)');
  // Fail-fast commands (no offline queue): with Redis down, limits let requests through at once.
  const connection = createRedis('producer', settings.redis);
  // Counted from the first request: wait (a little) for the connection, so as not to fail open at start.
  await Promise.race([once(connection, 'ready'), delay(2000, undefined, { ref: false })]);
  const rateLimits = edge.rateLimits
    ? new RateLimits(connection, settings.prefix, edge.rateLimits, {
        // Every refusal passes here: the one place to count them.
        refused: ({ limit, key, retryAfterSeconds }) => {
          rateLimitRefusals.inc({ limit });
          logger.warn({ limit, key, retryAfterSeconds }, 'rate limited');
        },
        failingOpen: (error) => logger.error({ err: error }, 'rate limits cannot reach Redis: requests pass unlimited until it answers'),
        recovered: () => logger.info('rate limits reach Redis again'),
      })
    : null;
  const subscriptionQuota = new SubscriptionQuota(connection, {
    prefix: settings.prefix,
    maxPerUser: edge.settings.maxSubscriptionsPerUser,
    ttlMs: edge.subscriptionSlotTtlMs,
    cluster: isCluster(settings.redis),
    onError: (error) => logger.warn({ err: error }, 'subscription slots cannot reach Redis: subscriptions pass uncounted'),
  });
  const persistedOperations = await startPersistedOperations(settings, logger, edge.settings.limits, connection);
  return {
    deps: { edge: edge.settings, rateLimits, subscriptionQuota, persistedOperations: persistedOperations.registry },
    registerOperations: persistedOperations.register,
    async close() {
      await persistedOperations.close();
      await subscriptionQuota.close();
      await closeRedis(connection);
    },
  };
}

/**
 * The registry of persisted operations as this API process sees it, with this repository's own
 * clients' manifest registered first (like any client's: validated, stored, announced).
 */
async function startPersistedOperations(service: ServiceSettings, logger: Logger, limits: EdgeSettings['limits'], publisher: RedisClient) {
  const settings = { limits, redis: publisher, prefix: service.prefix };
  const firstParty = registerFirstPartyUntilDone(settings, {
    retryMs: 5_000,
    registered: (registration) => logger.info({ operations: registration.hashes.length, added: registration.added }, 'first-party persisted operations registered'),
    failed: (error) => logger.error({ err: error }, 'first-party persisted operations not registered yet: retrying in 5 s'),
  });
  await firstParty.first;
  const registry = new PersistedOperations({ redis: service.redis, prefix: service.prefix, usageFlushMs: service.operations.usageFlushMs });
  return {
    registry,
    async close() {
      firstParty.stop();
      await registry.close();
    },
    /** What an app's CI publishes on the admin port. */
    register: (clientVersion: ClientVersion, manifest: unknown) => registerManifest(settings, clientVersion, manifest),
  };
}

interface Shared {
  deploymentQueue: DeploymentQueue;
  notificationQueue: NotificationQueue;
  offerExpiryQueue: OfferExpiryQueue;
  liveUpdates: LiveUpdates;
  presence: Presence;
}

/** The deployment and notification workers, what follows their commits, push (said once here when it is off), the outbox relay. */
async function startWorkers(settings: ServiceSettings, logger: Logger, messaging: Messaging | null | undefined, shared: Shared) {
  const { deploymentQueue, notificationQueue, offerExpiryQueue, liveUpdates, presence } = shared;
  // firebase-admin (about 15 MiB) is loaded by the processes that push, not by an API alone.
  const firebase = messaging === undefined ? (await import('./push/firebase.ts')).firebasePush(settings.push) : null;
  const sender = createPushSender(messaging === undefined ? (firebase?.messaging ?? null) : messaging);
  // One send rate for all worker processes, kept in Redis.
  const paceConnection = sender.disabledReason ? null : createRedis('publisher', settings.redis);
  const bucket = paceConnection && new PushBucket(paceConnection, { maxPerMinute: settings.pushPacing.maxPerMinute, prefix: settings.prefix });
  if (bucket) watchPushBucket(bucket);
  const push = bucket ? pacedPushSender(sender, bucket, settings.pushPacing, firebase?.retryAfter) : sender;
  if (push.disabledReason) logger.warn({ reason: push.disabledReason }, 'push notifications are off: deliveries that need a push are recorded SKIPPED');
  else if (settings.push.apiUrl) logger.warn({ projectId: settings.push.projectId, apiUrl: settings.push.apiUrl }, 'pushes go to FCM_API_URL, a stand-in for FCM');
  else logger.info({ projectId: settings.push.projectId }, 'push notifications through FCM');

  const workerSettings = {
    ...settings.queues,
    ...settings.workers,
    retryHorizonMs: settings.deployments.retry.retryHorizonMs,
    batch: settings.deployments.batch,
    offerReminderBeforeMs: settings.notifications.offerReminderBeforeMs,
    offerReminderIntervalMs: settings.notifications.offerReminderIntervalMs,
    deviceStaleAfterMs: settings.notifications.deviceStaleAfterMs,
    deviceCleanupIntervalMs: settings.notifications.deviceCleanupIntervalMs,
    limitChangeIntervalMs: settings.limitChanges.intervalMs,
    temporaryLimitReminderBeforeMs: settings.limitChanges.temporaryReminderBeforeMs,
  };
  const delivery = {
    presence,
    push,
    fallbackMs: settings.notifications.pushFallbackAfterMs,
    // A push's claim lapses when its holder died as the job's lock does: the job taken over after a crash claims it then.
    pushClaimMs: settings.workers.jobLockMs,
    preferences: { offersPushDefault: settings.notifications.offersPushDefault, releaseSpreadMs: settings.notifications.quietHoursReleaseSpreadMs },
    logger: logger.child({ component: 'notification-worker' }),
  };
  const afterCommit = createAfterCommit({ liveUpdates, notificationQueue, deploymentQueue, delivery, logger });
  const deploymentWorker = startDeploymentWorker({ queue: deploymentQueue, afterCommit, logger, settings: workerSettings });
  const notificationWorker = startNotificationWorker({ notificationQueue, offerExpiryQueue, afterCommit, delivery, logger, settings: workerSettings });
  const relayConnection = createRedis('publisher', settings.redis);
  const relay = startOutboxRelay(eventStreamPublisher(relayConnection, settings.events.stream), settings.events.relay, logger);
  const retentionLog = logger.child({ component: 'retention' });
  const retentionJob = createRetentionJob({
    logger: retentionLog,
    settings: settings.retention,
    trimEventStream: eventStreamTrimmer(relayConnection, settings.events.stream.key),
  });
  const retention = startPeriodic('retention', retentionJob, settings.retention.intervalMs, retentionLog, {
    queue: notificationQueue,
    name: 'retention',
  });
  return {
    eventRelayLagMs: relay.lagMs,
    async close() {
      await Promise.all([deploymentWorker.close(), notificationWorker.close(), relay.stop(), retention.stop()]);
      await closeRedis(relayConnection);
      if (paceConnection) await closeRedis(paceConnection);
      await firebase?.close();
    },
  };
}

/** The insights consumer (an example downstream service) on its own blocking connection. */
async function startInsights(settings: ServiceSettings, logger: Logger) {
  // Loaded only by the processes that run it (its schema validator costs start-up time elsewhere).
  const { startInsightsConsumer } = await import('./events/insights-consumer.ts');
  const connection = createRedis('worker', settings.redis);
  const consumer = startInsightsConsumer(
    connection,
    { ...settings.insights, key: settings.events.stream.key, consumer: settings.insights.consumer ?? `${hostname()}-${process.pid}` },
    logger,
  );
  return {
    async close() {
      await consumer.stop();
      await closeRedis(connection);
    },
  };
}
