// The BullMQ queues (deployments, notifications, offer expiry): names, job payloads and options.
// How jobs are added: producers.ts.
import { createHash } from 'node:crypto';
import { Queue, type DefaultJobOptions } from 'bullmq';
import { closeRedis, createRedis, isCluster, type RedisClient, type RedisSettings } from '../platform/redis.ts';
import type { TraceCarrier } from '../platform/tracing.ts';
import type { FailedAttempt } from '../domain/deployment-failures.ts';
import type { ReadPairJson } from '../domain/deployment-locks.ts';
import { attemptsCovering, cappedBackoff } from './retry-backoff.ts';

/** Where the queues live: the Redis (and its logger) and the prefix of every key. */
export interface QueueSettings {
  redis: RedisSettings;
  prefix: string;
}

/**
 * The key prefix of a queue. On a Redis Cluster, BullMQ's scripts touch many keys of a queue at
 * once, so they must share a hash slot: the prefix is a hash tag naming the queue, which puts
 * each queue's keys in one slot and different queues in (likely) different slots, spread over
 * the masters. A single Redis keeps the plain prefix.
 */
export function queuePrefix(settings: QueueSettings, queueName: string): string {
  return isCluster(settings.redis) ? `{${settings.prefix}:${queueName}}` : settings.prefix;
}

/** A queue's attempts and the first retry delay (each next one doubles it). */
export interface RetrySettings {
  attempts: number;
  backoffMs: number;
}

/** Finished jobs are kept a while for inspection, then removed. */
const RETENTION: DefaultJobOptions = { removeOnComplete: { age: 24 * 3600, count: 10_000 }, removeOnFail: { age: 7 * 24 * 3600 } };

/**
 * A producer of the queue: its connection fails fast when Redis is down (what is committed in
 * Postgres is enqueued later by the reconcilers), and its errors are logged, not thrown.
 */
function createQueue<Data>(name: string, defaultJobOptions: DefaultJobOptions, settings: QueueSettings): Queue<Data> {
  const queue = new Queue<Data>(name, {
    connection: createRedis('producer', settings.redis),
    prefix: queuePrefix(settings, name),
    defaultJobOptions,
  });
  queue.on('error', (error) => settings.redis.logger.warn({ err: error, queue: name }, 'queue connection error'));
  return queue;
}

/** Job options of a queue that retries: the processors read attempts and backoff from here. */
function retryOptions({ attempts, backoffMs }: RetrySettings): DefaultJobOptions {
  return { attempts, backoff: { type: 'exponential', delay: backoffMs }, ...RETENTION };
}

export const DEPLOYMENT_QUEUE = 'credit-deployments';

export interface DeploymentJob {
  deploymentId: string;
  correlationId: string;
  /** When the first attempt ran (ms since the epoch): the retry horizon counts from it. Set by the first failure. */
  firstAttemptAt?: number;
  /** Failed attempts not yet in the audit trail (the database was unreachable): the next attempt records them. */
  unrecorded?: FailedAttempt[];
  /** The trace of whoever enqueued it (the accepting request), continued by the worker. */
  trace?: TraceCarrier;
  /**
   * What the worker reads first, as the accept read it in its own statement (readAtAcceptance):
   * the first attempt applies from it, and the apply's checks send it through the lock if the
   * rows changed since. Absent when the accept could not vouch for it, or for jobs added later.
   */
  read?: ReadPairJson;
}

/** How the deployment queue retries transient trouble. */
export interface DeploymentRetrySettings {
  /** The first retry's delay; each next one doubles it. */
  backoffMs: number;
  /** No retry waits longer than this. */
  maxBackoffMs: number;
  /** Retries go on this long from the first attempt (the processor stops them). */
  retryHorizonMs: number;
}

export type DeploymentQueue = Queue<DeploymentJob>;

/**
 * Capped exponential backoff with jitter, and enough attempts to outlast the retry horizon: the
 * processor decides when retrying stops; the worker's backoffStrategy reads the delays from here.
 */
export function createDeploymentQueue(settings: QueueSettings, retry: DeploymentRetrySettings): DeploymentQueue {
  const backoff = cappedBackoff(retry.backoffMs, retry.maxBackoffMs);
  return createQueue(DEPLOYMENT_QUEUE, { attempts: attemptsCovering(backoff, retry.retryHorizonMs), backoff, ...RETENTION }, settings);
}

export const NOTIFICATION_QUEUE = 'credit-notifications';

export interface NotificationJob {
  notificationId: string;
  correlationId: string;
  /** The trace of the deployment (or expiry) that created the notification. */
  trace?: TraceCarrier;
}

/**
 * The first delivery step of a batch's notifications (a campaign's issuance): one job for the
 * batch, so a request of 1,000 offers adds one job, not 1,000; the worker takes the steps in bulk
 * and adds a job for each notification left with a push to send.
 */
export interface NotificationBatchJob {
  notificationIds: string[];
  correlationId: string;
  trace?: TraceCarrier;
}

/** The name of a NotificationBatchJob (a notification's own job is named 'deliver'). */
export const FIRST_STEPS = 'first-steps';

/**
 * The id of a batch's first-steps job, from what each of its notifications carries: the batch
 * commits them in one transaction (one created_at) under one request's correlation id. So the
 * reconciler, holding any one of them, finds the job that will take its first step.
 */
export function firstStepsJobId(notification: { correlationId: string; createdAt: Date }): string {
  const key = createHash('sha256').update(`${notification.correlationId}\n${notification.createdAt.toISOString()}`).digest('hex').slice(0, 32);
  return `${FIRST_STEPS}-${key}`;
}

export type NotificationQueue = Queue<NotificationJob | NotificationBatchJob>;

/** Attempts and backoff are the push's: only a transiently failed push makes a job retry. */
export function createNotificationQueue(settings: QueueSettings, retry: RetrySettings): NotificationQueue {
  return createQueue(NOTIFICATION_QUEUE, retryOptions(retry), settings);
}

export const OFFER_EXPIRY_QUEUE = 'credit-offer-expiry';
const OFFER_EXPIRY_SCHEDULER = 'expire-offers';

export type OfferExpiryQueue = Queue<Record<string, never>>;

export function createOfferExpiryQueue(settings: QueueSettings): OfferExpiryQueue {
  // The scheduler sets its jobs' options (scheduleOfferExpiry).
  return createQueue(OFFER_EXPIRY_QUEUE, {}, settings);
}

/**
 * One scheduler for the whole service, whatever the number of workers: every worker makes sure
 * the same scheduler id exists, and BullMQ makes one job per interval. Only a missing scheduler
 * is (re)created: upserting an existing one would move its next run further away each time.
 */
export async function scheduleOfferExpiry(queue: OfferExpiryQueue, everyMs: number): Promise<void> {
  if (await queue.getJobScheduler(OFFER_EXPIRY_SCHEDULER)) return;
  await queue.upsertJobScheduler(
    OFFER_EXPIRY_SCHEDULER,
    { every: everyMs },
    { name: OFFER_EXPIRY_SCHEDULER, data: {}, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 1000 } } },
  );
}

/** Closes a queue and its connection (BullMQ leaves a connection it was given open). */
export async function closeQueue(queue: Queue<any>): Promise<void> {
  await queue.close();
  await closeRedis(queue.opts.connection as RedisClient);
}
