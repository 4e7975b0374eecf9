// A BullMQ worker as every queue of the service runs it: its own blocking connection, the
// service's prefix, crash recovery through job locks, errors logged, and a close that also
// closes the connection (BullMQ leaves a connection it was given open).
import { hostname } from 'node:os';
import { Worker, type Job, type Processor, type WorkerOptions } from 'bullmq';
import type { Logger } from '../platform/logger.ts';
import { closeRedis, createRedis } from '../platform/redis.ts';
import { contextFrom, inSpan, SpanKind, type TraceCarrier } from '../platform/tracing.ts';
import { queuePrefix, type QueueSettings } from './queues.ts';

export interface WorkerSettings extends QueueSettings {
  /** Jobs run at once by this worker. */
  concurrency: number;
  /** How long a job's lock lasts without renewal: after a crash, the job is taken over after about this long. */
  jobLockMs: number;
}

/** What the jobs' data may carry for tracing: the enqueuer's trace context and the correlation id. */
interface TracedData {
  trace?: TraceCarrier;
  correlationId?: string;
}

/** Runs each job in a span that continues the trace of whoever enqueued it (its data carries the context). */
function traced<Data, Result>(queueName: string, processor: Processor<Data, Result>): Processor<Data, Result> {
  return (job: Job<Data, Result>, token?: string) => {
    const data = (job.data ?? {}) as TracedData;
    const attributes = {
      'messaging.destination.name': queueName,
      'messaging.message.id': job.id,
      'job.attempt': job.attemptsMade + 1,
      correlation_id: data.correlationId,
    };
    return inSpan(`${queueName} process`, { kind: SpanKind.CONSUMER, parent: contextFrom(data.trace), attributes }, () => processor(job, token));
  };
}

export function startQueueWorker<Data, Result>(
  queueName: string,
  processor: Processor<Data, Result>,
  log: Logger,
  settings: WorkerSettings,
  /** BullMQ's advanced settings, e.g. the backoffStrategy of custom backoff types. */
  advanced?: WorkerOptions['settings'],
) {
  const connection = createRedis('worker', settings.redis);
  const worker = new Worker<Data, Result>(queueName, traced(queueName, processor), {
    connection,
    prefix: queuePrefix(settings, queueName),
    // Stored on each job it runs (`processedBy`): which process ran a job, on the queue board and for the benches.
    name: `${hostname()}:${process.pid}`,
    concurrency: settings.concurrency,
    // After a crash, a job's lock expires and another worker takes the job over.
    lockDuration: settings.jobLockMs,
    stalledInterval: Math.max(500, Math.floor(settings.jobLockMs / 2)),
    maxStalledCount: 3,
    ...(advanced ? { settings: advanced } : {}),
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
