// The BullMQ queue of deployments: its name, job payload and options, and how jobs are added.
import { Queue } from 'bullmq';
import { config } from '../config.ts';
import type { Redis } from 'ioredis';
import { logger } from '../logger.ts';
import { closeRedis, createRedis } from '../redis.ts';

export const DEPLOYMENT_QUEUE = 'credit-deployments';

export interface DeploymentJob {
  deploymentId: string;
  correlationId: string;
}

export type DeploymentQueue = Queue<DeploymentJob>;

export function createDeploymentQueue(redisUrl = config.REDIS_URL): DeploymentQueue {
  const queue = new Queue<DeploymentJob>(DEPLOYMENT_QUEUE, {
    connection: createRedis('producer', redisUrl),
    prefix: config.REDIS_PREFIX,
    defaultJobOptions: {
      attempts: config.DEPLOYMENT_ATTEMPTS,
      backoff: { type: 'exponential', delay: config.DEPLOYMENT_BACKOFF_MS },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  });
  // Redis errors surface where the queue is used (enqueue fails, the reconciler catches up).
  queue.on('error', (error) => logger.warn({ err: error, queue: DEPLOYMENT_QUEUE }, 'queue connection error'));
  return queue;
}

/**
 * Adds the deployment's job. The job id is the deployment id, so adding it again while the job
 * exists is a no-op: enqueueing is idempotent.
 */
export async function enqueueDeployment(queue: DeploymentQueue, job: DeploymentJob): Promise<void> {
  await queue.add('deploy', job, { jobId: job.deploymentId });
}

/** Closes the queue and its connection (BullMQ leaves a connection it was given open). */
export async function closeDeploymentQueue(queue: DeploymentQueue): Promise<void> {
  await queue.close();
  await closeRedis(queue.opts.connection as Redis);
}
