// Worker wiring: the deployment worker and the reconciler, with their connections and shutdown.
import { config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Realtime } from '../realtime/pubsub.ts';
import { createDeployCreditProcessor } from './deploy-credit.ts';
import { DEPLOYMENT_QUEUE, type DeploymentJob, type DeploymentQueue, type NotificationQueue } from './queues.ts';
import { startQueueWorker } from './queue-worker.ts';
import { createReconciler, startReconciler } from './reconciler.ts';

export interface WorkerDeps {
  queue: DeploymentQueue;
  notificationQueue: NotificationQueue;
  realtime: Realtime;
  logger: Logger;
}

export function startDeploymentWorker({ queue, notificationQueue, realtime, logger }: WorkerDeps) {
  const log = logger.child({ component: 'deployment-worker' });
  const processor = createDeployCreditProcessor({
    realtime,
    notificationQueue,
    logger: log,
    maxAttempts: config.DEPLOYMENT_ATTEMPTS,
    backoffMs: config.DEPLOYMENT_BACKOFF_MS,
  });
  const deploymentWorker = startQueueWorker<DeploymentJob, string>(DEPLOYMENT_QUEUE, processor, log);

  const reconcile = createReconciler({ queue, realtime, logger: log, graceMs: config.RECONCILE_GRACE_MS });
  const reconciler = startReconciler(reconcile, config.RECONCILE_INTERVAL_MS, log);

  return {
    /** Stops taking jobs and waits for the running ones to finish. */
    async close() {
      await reconciler.stop();
      await deploymentWorker.close();
    },
  };
}
