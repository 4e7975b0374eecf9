// Worker wiring: the deployment worker (its processor and batcher) and the deployment reconciler,
// with their shutdown.
import type { Logger } from '../platform/logger.ts';
import type { AfterCommit } from './after-commit.ts';
import { createDeployCreditProcessor } from './deploy-credit.ts';
import type { BatchSettings } from './batches.ts';
import { createDeploymentBatcher } from './deployment-batcher.ts';
import { startPeriodic } from './periodic.ts';
import { DEPLOYMENT_QUEUE, type DeploymentJob, type DeploymentQueue } from './queues.ts';
import { startQueueWorker, type WorkerSettings } from './queue-worker.ts';
import { createDeploymentReconciler, type ReconcileSettings } from './reconciler.ts';
import { backoffStrategy } from './retry-backoff.ts';

export interface DeploymentWorkerDeps {
  queue: DeploymentQueue;
  afterCommit: AfterCommit;
  logger: Logger;
  settings: WorkerSettings & ReconcileSettings & { retryHorizonMs: number; batch: BatchSettings };
}

export function startDeploymentWorker({ queue, afterCommit, logger, settings }: DeploymentWorkerDeps) {
  const log = logger.child({ component: 'deployment-worker' });
  const batcher = createDeploymentBatcher({ afterCommit, logger: log, settings: settings.batch });
  const processor = createDeployCreditProcessor({ afterCommit, logger: log, retryHorizonMs: settings.retryHorizonMs, batcher });
  // Retry delays come from each job's backoff options (capped exponential with jitter).
  const deploymentWorker = startQueueWorker<DeploymentJob, string>(DEPLOYMENT_QUEUE, processor, log, settings, { backoffStrategy });

  const reconcile = createDeploymentReconciler({
    queue,
    afterCommit,
    logger: log,
    graceMs: settings.reconcileGraceMs,
    retryHorizonMs: settings.retryHorizonMs,
  });
  const reconciler = startPeriodic('reconcile-deployments', reconcile, settings.reconcileIntervalMs, log, { queue, name: 'reconcile-deployments' });

  return {
    /** Stops taking jobs and waits for the running ones to finish. */
    async close() {
      await reconciler.stop();
      await deploymentWorker.close();
    },
  };
}
