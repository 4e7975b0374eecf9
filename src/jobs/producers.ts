// The producers: how jobs are added. Job ids are the deployment (notification) ids, so adding a
// job again while it exists is a no-op. After a commit, only the after-commit step adds jobs
// (after-commit.ts, a rule of .dependency-cruiser.cjs), and acceptOffer, which enqueues its
// deployment before it answers.
import { readPairToJson } from '../domain/deployment-locks.ts';
import type { AcceptedDeployment } from '../domain/offers.ts';
import type { Logger } from '../platform/logger.ts';
import { inSpan, traceCarrier, type TraceCarrier } from '../platform/tracing.ts';
import { FIRST_STEPS, firstStepsJobId, type DeploymentJob, type DeploymentQueue, type NotificationJob, type NotificationQueue } from './queues.ts';

/**
 * Adds the deployment's job. The job id is the deployment id, so adding it again while the job
 * exists is a no-op: enqueueing is idempotent.
 */
export async function enqueueDeployment(queue: DeploymentQueue, job: DeploymentJob): Promise<void> {
  await inSpan('enqueue deployment', {}, () => queue.add('deploy', { ...job, trace: traceCarrier() }, { jobId: job.deploymentId }));
}

/**
 * Enqueues a committed deployment, best effort: when Redis is down, the reconciler enqueues it
 * once Redis answers again (it is in Postgres with no job).
 */
export async function enqueueDeploymentBestEffort(
  queue: DeploymentQueue,
  deployment: Pick<AcceptedDeployment, 'id' | 'correlationId' | 'readForApply'>,
  log: Logger,
): Promise<void> {
  const read = deployment.readForApply ? { read: readPairToJson(deployment.readForApply) } : {};
  try {
    await enqueueDeployment(queue, { deploymentId: deployment.id, correlationId: deployment.correlationId, ...read });
  } catch (error) {
    log.warn({ err: error, deploymentId: deployment.id }, 'could not enqueue the deployment; the reconciler will');
  }
}

/**
 * A notification's job, to be run no sooner than `runAt` (the push fallback's due time) when
 * given; `background` for a campaign's notifications (offers expired by the thousand), which
 * wait behind every notification of a user's own action (BullMQ runs jobs without a priority
 * before prioritized ones, and keeps the priority through delays and retries).
 */
export type NotificationJobAt = NotificationJob & { runAt?: Date; background?: boolean };

/** The BullMQ priority of background notifications: any value puts them behind unprioritized jobs. */
export const BACKGROUND_PRIORITY = 10;

/**
 * The priority of a batch's first-steps job: behind every unprioritized job (users' own actions),
 * ahead of the background notifications' jobs, so a campaign's batches turn into their jobs even
 * behind a backlog of pushes (a job each, at BACKGROUND_PRIORITY).
 */
export const FIRST_STEPS_PRIORITY = 5;

/** The job of a notification: its id is the notification id, so adding it again is a no-op. */
function deliverJob({ runAt, background, ...job }: NotificationJobAt, trace: TraceCarrier | undefined, now: number) {
  return {
    name: 'deliver',
    data: { ...job, trace },
    opts: {
      jobId: job.notificationId,
      ...(runAt ? { delay: Math.max(0, runAt.getTime() - now) } : {}),
      ...(background ? { priority: BACKGROUND_PRIORITY } : {}),
    },
  };
}

/** Adds the notification's job (adding it again is a no-op). */
export async function enqueueNotification(queue: NotificationQueue, job: NotificationJobAt): Promise<void> {
  const { name, data, opts } = deliverJob(job, traceCarrier(), Date.now());
  await queue.add(name, data, opts);
}

/**
 * Enqueues committed notifications, best effort: when Redis is down, the reconciler enqueues
 * them later (they are PENDING in Postgres with no job).
 */
export async function enqueueNotifications(queue: NotificationQueue, jobs: NotificationJobAt[], log: Logger): Promise<void> {
  if (jobs.length === 0) return;
  const trace = traceCarrier();
  const now = Date.now();
  try {
    // One transaction of Redis commands for them all (a queue's keys share a slot on a cluster).
    await queue.addBulk(jobs.map((job) => deliverJob(job, trace, now)));
  } catch (error) {
    log.warn({ err: error, notificationIds: jobs.map((job) => job.notificationId) }, 'could not enqueue the notifications; the reconciler will');
  }
}

/**
 * Hands a committed batch of notifications (a campaign's issuance) to the worker: one job takes
 * their first delivery steps in bulk and adds a background job for each push left to send. Best
 * effort: the notification reconciler enqueues any notification still PENDING with no job, once
 * this job is no longer waiting or running. Its id comes from the batch (firstStepsJobId): adding
 * it again is a no-op.
 */
export async function enqueueFirstSteps(
  queue: NotificationQueue,
  notifications: readonly { id: string; correlationId: string; createdAt: Date }[],
  log: Logger,
): Promise<void> {
  if (notifications.length === 0) return;
  const data = { notificationIds: notifications.map((n) => n.id), correlationId: notifications[0]!.correlationId, trace: traceCarrier() };
  try {
    await queue.add(FIRST_STEPS, data, { jobId: firstStepsJobId(notifications[0]!), priority: FIRST_STEPS_PRIORITY });
  } catch (error) {
    log.warn({ err: error, notifications: notifications.length }, "could not enqueue the batch's first steps; the reconciler will");
  }
}
