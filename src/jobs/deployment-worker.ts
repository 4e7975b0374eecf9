// Worker wiring: the deployment worker and the reconciler, with their connections and shutdown.
import type { DeliveryDeps } from '../domain/notification-delivery.ts';
import type { Logger } from '../platform/logger.ts';
import type { LiveUpdates } from '../realtime/live-updates.ts';
import { createDeployCreditProcessor } from './deploy-credit.ts';
import { createDeploymentBatcher, type BatchSettings } from './deployment-batcher.ts';
import { DEPLOYMENT_QUEUE, type DeploymentJob, type DeploymentQueue, type NotificationQueue } from './queues.ts';
import { startQueueWorker, type WorkerSettings } from './queue-worker.ts';
import { createReconciler, startReconciler, type ReconcileSettings } from './reconciler.ts';
import { backoffStrategy } from './retry-backoff.ts';

export interface WorkerDeps {
  queue: DeploymentQueue;
  notificationQueue: NotificationQueue;
  liveUpdates: LiveUpdates;
  /** How the deployments' notifications are delivered (their first step is taken with the batch). */
  delivery: DeliveryDeps;
  logger: Logger;
  settings: WorkerSettings & ReconcileSettings & { retryHorizonMs: number; batch: BatchSettings };
}

export function startDeploymentWorker({ queue, notificationQueue, liveUpdates, delivery, logger, settings }: WorkerDeps) {
  const log = logger.child({ component: 'deployment-worker' });
  const batcher = createDeploymentBatcher({ liveUpdates, notificationQueue, delivery, logger: log, settings: settings.batch });
  const processor = createDeployCreditProcessor({ liveUpdates, notificationQueue, logger: log, retryHorizonMs: settings.retryHorizonMs, batcher });
  // Retry delays come from each job's backoff options (capped exponential with jitter).
  const deploymentWorker = startQueueWorker<DeploymentJob, string>(DEPLOYMENT_QUEUE, processor, log, settings, { backoffStrategy });

  const reconcile = createReconciler({
    queue,
    liveUpdates,
    logger: log,
    graceMs: settings.reconcileGraceMs,
    retryHorizonMs: settings.retryHorizonMs,
  });
  const reconciler = startReconciler(reconcile, settings.reconcileIntervalMs, log, { queue, name: 'reconcile-deployments' });

  return {
    /** Stops taking jobs and waits for the running ones to finish. */
    async close() {
      await reconciler.stop();
      await deploymentWorker.close();
    },
  };
}
