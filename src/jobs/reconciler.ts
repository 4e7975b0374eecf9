// Nothing accepted is ever lost: deployments (and notifications) recorded in Postgres whose job
// never reached Redis (Redis down at accept, crash between commit and enqueue) are enqueued here.
// Runs on worker start and periodically; safe with several workers, since job ids are the
// deployment (notification) ids.
import { prisma } from '../db.ts';
import { failDeployment } from '../deployments.ts';
import { publishEvents } from '../deployment-events.ts';
import type { Logger } from '../logger.ts';
import type { Realtime } from '../realtime/pubsub.ts';
import { abandonNotification } from '../notification-delivery.ts';
import { enqueueDeployment, enqueueNotification, type DeploymentQueue, type NotificationQueue } from './queues.ts';

export interface ReconcilerDeps {
  queue: DeploymentQueue;
  realtime: Realtime;
  logger: Logger;
  /** Deployments younger than this are left alone: their job is probably being added right now. */
  graceMs: number;
}

const BATCH = 500;

export function createReconciler({ queue, realtime, logger, graceMs }: ReconcilerDeps) {
  return async function reconcileDeployments(now = new Date()): Promise<{ enqueued: number; failed: number }> {
    const open = await prisma.creditDeployment.findMany({
      where: { status: { in: ['QUEUED', 'PROCESSING', 'RETRYING'] }, queuedAt: { lt: new Date(now.getTime() - graceMs) } },
      select: { id: true, correlationId: true },
      orderBy: { queuedAt: 'asc' },
      take: BATCH,
    });
    let enqueued = 0;
    let failed = 0;
    for (const deployment of open) {
      const job = await queue.getJob(deployment.id);
      if (!job) {
        await enqueueDeployment(queue, { deploymentId: deployment.id, correlationId: deployment.correlationId });
        logger.info({ deploymentId: deployment.id, correlationId: deployment.correlationId }, 'reconciler enqueued a deployment with no job');
        enqueued += 1;
      } else if ((await job.getState()) === 'failed') {
        // The job gave up without recording the end (e.g. stalled too often): record it now.
        // Its notification is PENDING with no job: the notification reconciler sends it.
        const ending = await failDeployment(deployment.id, `processing stopped: ${job.failedReason || 'job failed'}`);
        if (ending) await publishEvents(realtime, ending.events);
        failed += 1;
      }
    }
    return { enqueued, failed };
  };
}

export interface NotificationReconcilerDeps {
  queue: NotificationQueue;
  realtime: Realtime;
  logger: Logger;
  /** Notifications younger (pushes due more recently) than this are left alone. */
  graceMs: number;
}

/**
 * Enqueues notifications with no job: PENDING ones, and in-app ones whose push fallback is
 * overdue. A job that gave up is recorded as a failed delivery.
 */
export function createNotificationReconciler({ queue, realtime, logger, graceMs }: NotificationReconcilerDeps) {
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
    let enqueued = 0;
    let failed = 0;
    for (const notification of open) {
      const log = logger.child({ notificationId: notification.id, correlationId: notification.correlationId });
      const job = await queue.getJob(notification.id);
      if (!job) {
        await enqueueNotification(queue, { notificationId: notification.id, correlationId: notification.correlationId });
        log.info('reconciler enqueued a notification with no job');
        enqueued += 1;
      } else if ((await job.getState()) === 'failed') {
        await abandonNotification({ realtime, logger: log }, notification.id, job.failedReason || 'job failed', now);
        failed += 1;
      }
    }
    return { enqueued, failed };
  };
}

/** Runs the reconciler now and then every `intervalMs`, never two runs at once. */
export function startReconciler(reconcile: () => Promise<unknown>, intervalMs: number, logger: Logger) {
  let running: Promise<unknown> | null = null;
  const tick = () => {
    if (running) return;
    running = reconcile()
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
