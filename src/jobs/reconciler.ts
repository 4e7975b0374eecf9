// Nothing accepted is ever lost: deployments (and notifications) recorded in Postgres whose job
// never reached Redis (Redis down at accept, crash between commit and enqueue) are enqueued here.
// Runs on worker start and periodically, once per interval across all worker processes (each
// run is claimed in Redis first); even two runs at once would be safe, since job ids are the
// deployment (notification) ids.
import type { Job, Queue } from 'bullmq';
import { prisma } from '../platform/db.ts';
import { failDeployment } from '../domain/deployments.ts';
import type { Logger } from '../platform/logger.ts';
import type { RedisClient } from '../platform/redis.ts';
import type { LiveUpdatesPort } from '../domain/ports.ts';
import { abandonNotification } from '../domain/notification-delivery.ts';
import { enqueueDeployment, enqueueNotification, type DeploymentJob, type DeploymentQueue, type NotificationQueue } from './queues.ts';

/** How often the reconcilers run, and how old an item must be before they touch it. */
export interface ReconcileSettings {
  reconcileIntervalMs: number;
  /** Items younger than this are left alone: their job is probably being added right now. */
  reconcileGraceMs: number;
}

export interface ReconcilerDeps {
  queue: DeploymentQueue;
  liveUpdates: LiveUpdatesPort;
  logger: Logger;
  /** Deployments younger than this are left alone: their job is probably being added right now. */
  graceMs: number;
  /** A job that gave up within this long of its first attempt is retried, not settled FAILED. */
  retryHorizonMs: number;
}

const BATCH = 500;

interface OpenItem {
  id: string;
  correlationId: string;
}

interface OpenDeployment extends OpenItem {
  startedAt: Date | null;
}

/**
 * The reconciliation of open items (deployments or notifications) against their jobs, whose ids
 * are the items' ids: an item with no job is enqueued; one whose job gave up is settled.
 */
async function reconcileJobs<Item extends OpenItem>(
  items: Item[],
  queue: Queue<any>,
  enqueue: (item: Item) => Promise<void>,
  settleAbandoned: (item: Item, job: Job) => Promise<void>,
): Promise<{ enqueued: number; failed: number }> {
  let enqueued = 0;
  let failed = 0;
  for (const item of items) {
    const job = await queue.getJob(item.id);
    if (!job) {
      await enqueue(item);
      enqueued += 1;
    } else if ((await job.getState()) === 'failed') {
      await settleAbandoned(item, job);
      failed += 1;
    }
  }
  return { enqueued, failed };
}

export function createReconciler({ queue, liveUpdates, logger, graceMs, retryHorizonMs }: ReconcilerDeps) {
  return async function reconcileDeployments(now = new Date()): Promise<{ enqueued: number; failed: number }> {
    const open: OpenDeployment[] = await prisma.creditDeployment.findMany({
      where: { status: { in: ['QUEUED', 'PROCESSING', 'RETRYING'] }, queuedAt: { lt: new Date(now.getTime() - graceMs) } },
      select: { id: true, correlationId: true, startedAt: true },
      orderBy: { queuedAt: 'asc' },
      take: BATCH,
    });
    return reconcileJobs(
      open,
      queue,
      async (deployment) => {
        // A job lost with Redis's data: its retry horizon still counts from the first attempt.
        const firstAttemptAt = deployment.startedAt?.getTime();
        await enqueueDeployment(queue, { deploymentId: deployment.id, correlationId: deployment.correlationId, ...(firstAttemptAt ? { firstAttemptAt } : {}) });
        logger.info({ deploymentId: deployment.id, correlationId: deployment.correlationId }, 'reconciler enqueued a deployment with no job');
      },
      async (deployment, job) => {
        // BullMQ gave up on the job (stalled too often, attempts spent) without its end recorded.
        // Within the horizon that is no reason to fail the customer: the job runs again.
        const log = logger.child({ deploymentId: deployment.id, correlationId: deployment.correlationId });
        const firstAttemptAt = (job.data as DeploymentJob).firstAttemptAt ?? job.timestamp;
        if (now.getTime() - firstAttemptAt < retryHorizonMs) {
          await job.retry('failed');
          log.warn({ failedReason: job.failedReason }, 'reconciler retried a deployment job that gave up');
          return;
        }
        // Past the horizon: the end, as the processor would have recorded it.
        // Its notification is PENDING with no job: the notification reconciler sends it.
        const ending = await failDeployment(deployment.id, {
          code: 'RETRIES_EXHAUSTED',
          reason: `the job gave up after the retry horizon (${job.attemptsMade} attempts)`,
        });
        if (ending) {
          await liveUpdates.publishDeploymentEvents(ending.events);
          log.error({ failureCode: 'RETRIES_EXHAUSTED', failedReason: job.failedReason }, 'deployment FAILED: retries exhausted');
        }
      },
    );
  };
}

export interface NotificationReconcilerDeps {
  queue: NotificationQueue;
  liveUpdates: LiveUpdatesPort;
  logger: Logger;
  /** Notifications younger (pushes due more recently) than this are left alone. */
  graceMs: number;
}

/**
 * Enqueues notifications with no job: PENDING ones, and in-app ones whose push fallback is
 * overdue. A job that gave up is recorded as a failed delivery.
 */
export function createNotificationReconciler({ queue, liveUpdates, logger, graceMs }: NotificationReconcilerDeps) {
  return async function reconcileNotifications(now = new Date()): Promise<{ enqueued: number; failed: number }> {
    const before = new Date(now.getTime() - graceMs);
    const open = await prisma.notification.findMany({
      where: {
        OR: [
          { status: 'PENDING', createdAt: { lt: before } },
          { status: 'DELIVERED', pushSettledAt: null, pushDueAt: { lt: before } },
        ],
      },
      select: { id: true, correlationId: true },
      orderBy: { createdAt: 'asc' },
      take: BATCH,
    });
    return reconcileJobs(
      open,
      queue,
      async (notification) => {
        await enqueueNotification(queue, { notificationId: notification.id, correlationId: notification.correlationId });
        logger.info({ notificationId: notification.id, correlationId: notification.correlationId }, 'reconciler enqueued a notification with no job');
      },
      async (notification, job) => {
        const reason = job.failedReason || 'job failed';
        const log = logger.child({ notificationId: notification.id, correlationId: notification.correlationId });
        await abandonNotification({ liveUpdates, logger: log }, notification.id, reason, now);
      },
    );
  };
}

/**
 * KEYS[1]: the periodic job's key; ARGV[1]: its interval (ms). Claims the current interval (by
 * Redis' clock, so the hosts' clocks do not matter): its number for the first caller in it, -1
 * for the others.
 */
const CLAIM_INTERVAL = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local current = math.floor(now / interval)
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
if last >= current then return -1 end
redis.call('SET', KEYS[1], current, 'PX', interval * 3)
return current`;

/** A periodic job that runs once per interval across every process that starts it. */
export interface PeriodicClaim {
  /** The queue whose Redis (and prefix) holds the claims. */
  queue: Queue<any>;
  /** The job's name: one claim per name. */
  name: string;
}

/** The number of the current interval when this process runs the periodic job in it, else null. */
export async function claimInterval({ queue, name }: PeriodicClaim, intervalMs: number): Promise<number | null> {
  await queue.waitUntilReady();
  const redis = queue.opts.connection as RedisClient; // the producer connection createQueue gave it
  // One key: on a Redis Cluster it lives beside the queue's own keys (the same hash tag).
  const key = `${queue.opts.prefix}:${queue.name}:periodic:${name}`;
  const interval = Number(await redis.eval(CLAIM_INTERVAL, 1, key, intervalMs));
  return interval >= 0 ? interval : null;
}

/**
 * Runs the reconciler now and then every `intervalMs`, never two runs at once in a process, and
 * (with a claim) once per interval across processes: every process ticks, the first in an
 * interval runs it.
 */
export function startReconciler(reconcile: () => Promise<unknown>, intervalMs: number, logger: Logger, claim?: PeriodicClaim) {
  let running: Promise<unknown> | null = null;
  const run = async () => {
    const interval = claim ? await claimInterval(claim, intervalMs) : undefined;
    if (interval === null) return;
    logger.debug({ periodic: claim?.name ?? 'reconciler', interval }, 'periodic run');
    await reconcile();
  };
  const tick = () => {
    if (running) return;
    running = run()
      .catch((error: unknown) => logger.warn({ err: error }, 'reconciler run failed; will try again'))
      .finally(() => {
        running = null;
      });
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
