// A BullMQ worker as every queue of the service runs it: its own blocking connection, the
// service's prefix, crash recovery through job locks, errors logged, and a close that also
// closes the connection (BullMQ leaves a connection it was given open).
import { Worker, type Processor } from 'bullmq';
import { config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { closeRedis, createRedis } from '../redis.ts';

export function startQueueWorker<Data, Result>(
  queueName: string,
  processor: Processor<Data, Result>,
  log: Logger,
  concurrency = config.WORKER_CONCURRENCY,
) {
  const connection = createRedis('worker');
  const worker = new Worker<Data, Result>(queueName, processor, {
    connection,
    prefix: config.REDIS_PREFIX,
    concurrency,
    // After a crash, a job's lock expires and another worker takes the job over.
    lockDuration: config.JOB_LOCK_MS,
    stalledInterval: Math.max(500, Math.floor(config.JOB_LOCK_MS / 2)),
    maxStalledCount: 3,
  });
  worker.on('error', (error) => log.error({ err: error, queue: queueName }, 'worker error'));
  // Processors log their failures with what they mean (retry, refusal...); this is the trace.
  worker.on('failed', (job, error) => log.debug({ jobId: job?.id, err: error, queue: queueName }, 'job attempt failed'));
  return {
    worker,
    /** Stops taking jobs, waits for the running ones, closes the connection. */
    async close() {
      await worker.close();
      await closeRedis(connection);
    },
  };
}
