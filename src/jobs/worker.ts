// Worker wiring: the deployment worker and the reconciler, with their connections and shutdown.
import { Worker } from 'bullmq';
import { config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Realtime } from '../realtime/pubsub.ts';
import { closeRedis, createRedis } from '../redis.ts';
import { createDeployCreditProcessor } from './deploy-credit.ts';
import { DEPLOYMENT_QUEUE, type DeploymentJob, type DeploymentQueue, type NotificationQueue } from './queues.ts';
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
  const connection = createRedis('worker');
  const worker = new Worker<DeploymentJob, string>(DEPLOYMENT_QUEUE, processor, {
    connection,
    prefix: config.REDIS_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    // After a crash, the job's lock expires and another worker takes the job over.
    lockDuration: config.JOB_LOCK_MS,
    stalledInterval: Math.max(500, Math.floor(config.JOB_LOCK_MS / 2)),
    maxStalledCount: 3,
  });
  worker.on('error', (error) => log.error({ err: error }, 'worker error'));
  worker.on('failed', (job, error) => log.debug({ jobId: job?.id, err: error }, 'job attempt failed'));

  const reconcile = createReconciler({ queue, realtime, logger: log, graceMs: config.RECONCILE_GRACE_MS });
  const reconciler = startReconciler(reconcile, config.RECONCILE_INTERVAL_MS, log);

  return {
    worker,
    /** Stops taking jobs and waits for the running ones to finish. */
    async close() {
      await reconciler.stop();
      await worker.close();
      await closeRedis(connection);
    },
  };
}
