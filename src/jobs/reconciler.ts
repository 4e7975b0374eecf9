// Nothing accepted is ever lost: deployments (and notifications) recorded in Postgres whose job
// never reached Redis (Redis down at accept, crash between commit and enqueue) are enqueued here.
// Runs on worker start and periodically, once per interval across all worker processes (each
// run is claimed in Redis first); even two runs at once would be safe, since job ids are the
// deployment (notification) ids.
import type { Job, Queue } from 'bullmq';
import { hotTransaction, Prisma, type NotificationKind, type NotificationStatus } from '../platform/db.ts';
import { failDeployment } from '../domain/deployment-failures.ts';
import { categoryOf } from '../domain/notification-categories.ts';
import { abandonNotification } from '../domain/push-delivery.ts';
import type { Logger } from '../platform/logger.ts';
import type { AfterCommit } from './after-commit.ts';
import { firstStepsJobId, type DeploymentJob, type DeploymentQueue, type NotificationQueue } from './queues.ts';

/** How often the reconcilers run, and how old an item must be before they touch it. */
export interface ReconcileSettings {
  reconcileIntervalMs: number;
  /** Items younger than this are left alone: their job is probably being added right now. */
  reconcileGraceMs: number;
}

export interface ReconcilerDeps {
  queue: DeploymentQueue;
  afterCommit: AfterCommit;
  logger: Logger;
  /** Deployments younger than this are left alone: their job is probably being added right now. */
  graceMs: number;
  /** A job that gave up within this long of its first attempt is retried, not settled FAILED. */
  retryHorizonMs: number;
}

const BATCH = 500;

/** A job in one of these states will still run. */
const PENDING_STATES = new Set(['waiting', 'prioritized', 'active', 'delayed', 'waiting-children']);

interface OpenItem {
  id: string;
  correlationId: string;
}

interface OpenDeployment extends OpenItem {
  startedAt: Date | null;
}

/**
 * A reconciler's scan for open items, with bitmap scans off for it alone. Every item that is done
 * leaves its entry in the index of open ones (a notification delivered, a deployment applied),
 * dead until a VACUUM, and on a large table autovacuum comes seldom (at a fifth of its rows
 * changed, by default). A plain index scan marks the dead entries it meets, and later scans skip
 * them; a bitmap scan, which the planner chooses when it expects few rows, marks none and visits
 * the table for every one, pass after pass: 738 pages for 4,000 notifications delivered since the
 * last VACUUM (test/query-plans.test.ts), a year of them at a credit book's size.
 */
async function scanWithoutBitmap<Row>(label: string, sql: Prisma.Sql): Promise<Row[]> {
  return hotTransaction(label, async (query) => {
    await query(Prisma.sql`SET LOCAL enable_bitmapscan = off`);
    return query<Row>(sql);
  });
}

/**
 * The reconciliation of open items (deployments or notifications) against their jobs, whose ids
 * are the items' ids: an item with no job is enqueued; one whose job gave up is settled. One item
 * that cannot be reconciled (Redis or the database failing under it) is logged and the rest go on:
 * the next run tries it again.
 */
async function reconcileJobs<Item extends OpenItem>(
  items: Item[],
  queue: Queue<any>,
  logger: Logger,
  enqueue: (item: Item) => Promise<void>,
  settleAbandoned: (item: Item, job: Job) => Promise<void>,
  /** Whether another job (its batch's) will take the item's step: then it is left alone. */
  covered: (item: Item) => Promise<boolean> = async () => false,
): Promise<{ enqueued: number; failed: number }> {
  let enqueued = 0;
  let failed = 0;
  // Every item's job and its state (or, without a job, whether another job covers it), asked
  // for at once: the commands go out together on the queue's connection, so a pass waits for
  // Redis about once rather than once or twice per item (50 items one after another took 5 to
  // 25 ms here, a pass of 500 ten times that). A lookup that fails fails its own item only.
  const jobs = await Promise.allSettled(
    items.map(async (item) => {
      const job = await queue.getJob(item.id);
      if (job) return { job, state: await job.getState(), isCovered: false };
      return { job, state: null, isCovered: await covered(item) };
    }),
  );
  for (const [i, item] of items.entries()) {
    try {
      const found = jobs[i]!;
      if (found.status === 'rejected') throw found.reason;
      const { job, state, isCovered } = found.value;
      if (!job) {
        if (isCovered) continue;
        await enqueue(item);
        enqueued += 1;
      } else if (state === 'failed') {
        await settleAbandoned(item, job);
        failed += 1;
      }
    } catch (error) {
      logger.warn({ err: error, id: item.id, correlationId: item.correlationId }, 'reconciler could not reconcile an item; the next run will');
    }
  }
  return { enqueued, failed };
}

export function createDeploymentReconciler({ queue, afterCommit, logger, graceMs, retryHorizonMs }: ReconcilerDeps) {
  return async function reconcileDeployments(now = new Date()): Promise<{ enqueued: number; failed: number }> {
    // Each applied deployment leaves its entry in the index of unfinished ones scanned here: an
    // index scan, as the notifications' below (scanWithoutBitmap).
    const open = await scanWithoutBitmap<OpenDeployment>('deployment reconciler scan', Prisma.sql`
      SELECT id::text AS id, correlation_id AS "correlationId", started_at AS "startedAt"
        FROM credit_deployments
       WHERE status IN ('QUEUED', 'PROCESSING', 'RETRYING') AND queued_at < ${new Date(now.getTime() - graceMs)}
       ORDER BY queued_at LIMIT ${BATCH}`);
    return reconcileJobs(
      open,
      queue,
      logger,
      async (deployment) => {
        // A job lost with Redis's data: its retry horizon still counts from the first attempt.
        const firstAttemptAt = deployment.startedAt?.getTime();
        const job = { deploymentId: deployment.id, correlationId: deployment.correlationId, ...(firstAttemptAt ? { firstAttemptAt } : {}) };
        await afterCommit({ deploymentJobs: [job] });
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
        const ending = await failDeployment(deployment.id, {
          code: 'RETRIES_EXHAUSTED',
          reason: `the job gave up after the retry horizon (${job.attemptsMade} attempts)`,
        });
        if (ending) {
          await afterCommit({ events: ending.events, notifications: [ending.notification] }, log);
          log.error({ failureCode: 'RETRIES_EXHAUSTED', failedReason: job.failedReason }, 'deployment FAILED: retries exhausted');
        }
      },
    );
  };
}

export interface NotificationReconcilerDeps {
  queue: NotificationQueue;
  afterCommit: AfterCommit;
  logger: Logger;
  /** Notifications younger (pushes due more recently) than this are left alone. */
  graceMs: number;
}

/**
 * Enqueues notifications with no job: PENDING ones, and in-app ones whose push fallback is
 * overdue. A job that gave up is recorded as a failed delivery.
 */
export function createNotificationReconciler({ queue, afterCommit, logger, graceMs }: NotificationReconcilerDeps) {
  return async function reconcileNotifications(now = new Date()): Promise<{ enqueued: number; failed: number }> {
    const before = new Date(now.getTime() - graceMs);
    // The statuses are literals: the partial indexes that hold only the open rows (a handful among
    // millions) are chosen by their predicates, which a status sent as a parameter cannot prove.
    // Two ordered scans, one per partial index (an OR would be one bitmap scan, whatever the setting).
    type Open = { id: string; correlationId: string; kind: NotificationKind; createdAt: Date; status: NotificationStatus };
    const open = await scanWithoutBitmap<Open>('notification reconciler scan', Prisma.sql`
      SELECT * FROM (
        (SELECT id::text AS id, correlation_id AS "correlationId", kind::text AS kind, created_at AS "createdAt", status::text AS status
           FROM notifications
          WHERE status = 'PENDING' AND created_at < ${before}
          ORDER BY created_at LIMIT ${BATCH})
        UNION ALL
        (SELECT id::text, correlation_id, kind::text, created_at, status::text
           FROM notifications
          WHERE status = 'DELIVERED' AND push_settled_at IS NULL AND push_due_at < ${before}
          ORDER BY push_due_at LIMIT ${BATCH})) open
       ORDER BY "createdAt" LIMIT ${BATCH}`);
    // A campaign batch's notifications wait for their batch's first-steps job (behind users' own
    // work, maybe long after the grace): while it waits or runs, it takes their first step, and
    // a job each here would decide them a second time, one by one.
    const batchPending = new Map<string, Promise<boolean>>();
    const covered = (n: (typeof open)[number]) => {
      if (n.status !== 'PENDING') return Promise.resolve(false);
      const id = firstStepsJobId(n);
      let pending = batchPending.get(id);
      if (!pending) {
        pending = queue.getJob(id).then(async (job) => !!job && PENDING_STATES.has(await job.getState()));
        batchPending.set(id, pending);
      }
      return pending;
    };
    return reconcileJobs(
      open,
      queue,
      logger,
      async (notification) => {
        // The OFFERS category's notifications (a campaign's, by the thousand) keep their place behind users' own actions.
        const background = categoryOf(notification.kind) === 'OFFERS';
        await afterCommit({ notificationJobs: [{ notificationId: notification.id, correlationId: notification.correlationId, background }] });
        logger.info({ notificationId: notification.id, correlationId: notification.correlationId }, 'reconciler enqueued a notification with no job');
      },
      async (notification, job) => {
        const reason = job.failedReason || 'job failed';
        const log = logger.child({ notificationId: notification.id, correlationId: notification.correlationId });
        await abandonNotification(log, notification.id, reason, now);
      },
      covered,
    );
  };
}
