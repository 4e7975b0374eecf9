// Starts the parts of the service a process runs (API, worker, or both) and stops them in order.
import type { Messaging } from 'firebase-admin/messaging';
import { config } from './config.ts';
import { startNotificationWorker } from './jobs/notification-worker.ts';
import { closeQueue, createDeploymentQueue, createNotificationQueue, createOfferExpiryQueue } from './jobs/queues.ts';
import { startDeploymentWorker } from './jobs/worker.ts';
import { logger } from './logger.ts';
import { firebasePushFromConfig } from './realtime/firebase.ts';
import { Presence } from './realtime/presence.ts';
import { Realtime } from './realtime/pubsub.ts';
import { createPushSender } from './realtime/push-sender.ts';
import { closeRedis, createRedis } from './redis.ts';
import { createApiServer, databaseReady } from './server.ts';

export interface ServiceOptions {
  api: boolean;
  worker: boolean;
  port?: number;
  host?: string;
  /** The Firebase Messaging that pushes go through; null turns push off. Default: from the configuration. */
  messaging?: Messaging | null;
}

export interface RunningService {
  /** Base URL of the API, when this process serves it. */
  url: string | null;
  close(): Promise<void>;
}

export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { api, worker, port = config.PORT, host = config.HOST } = options;
  const realtime = new Realtime();
  const presenceConnection = createRedis('publisher');
  const presence = new Presence(presenceConnection, { logger });
  const deploymentQueue = createDeploymentQueue();
  const services = { realtime, deploymentQueue, presence };

  const workers = worker ? startWorkers(options.messaging, { deploymentQueue, realtime, presence }) : null;
  const apiServer = api
    ? createApiServer({
        services,
        logger,
        ready: async () => (await databaseReady()) && (await realtime.ping()),
      })
    : null;
  const url = apiServer ? await apiServer.listen(port, host) : null;
  logger.info({ url, worker }, 'service started');

  return {
    url,
    async close() {
      // Stop taking requests and end subscriptions, let running jobs finish, then close connections.
      await apiServer?.close();
      await presence.close();
      await workers?.close();
      await closeQueue(deploymentQueue);
      await closeRedis(presenceConnection);
      await realtime.close();
      logger.info('service stopped');
    },
  };
}

interface Shared {
  deploymentQueue: ReturnType<typeof createDeploymentQueue>;
  realtime: Realtime;
  presence: Presence;
}

/** The deployment and notification workers, and push (said once here when it is off). */
function startWorkers(messaging: Messaging | null | undefined, { deploymentQueue, realtime, presence }: Shared) {
  const firebase = messaging === undefined ? firebasePushFromConfig(config) : null;
  const push = createPushSender(messaging === undefined ? (firebase?.messaging ?? null) : messaging);
  if (push.disabledReason) logger.warn({ reason: push.disabledReason }, 'push notifications are off: deliveries that need a push are recorded SKIPPED');
  else logger.info({ projectId: config.FCM_PROJECT_ID }, 'push notifications through FCM');

  const notificationQueue = createNotificationQueue();
  const offerExpiryQueue = createOfferExpiryQueue();
  const deploymentWorker = startDeploymentWorker({ queue: deploymentQueue, notificationQueue, realtime, logger });
  const notificationWorker = startNotificationWorker({ notificationQueue, offerExpiryQueue, realtime, presence, push, logger });
  return {
    async close() {
      await Promise.all([deploymentWorker.close(), notificationWorker.close()]);
      await Promise.all([closeQueue(notificationQueue), closeQueue(offerExpiryQueue)]);
      await firebase?.close();
    },
  };
}
