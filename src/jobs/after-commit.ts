// What follows a commit, in one place: given what a transaction committed, publish one message
// per deployment carrying its new audit events (a live stream sends them as they are when they
// follow what it sent, and reads the trail otherwise), take the
// first delivery step of each new notification (in-app for a present user, the push settled
// SKIPPED when there is nothing to send it to), tell live subscriptions of in-app deliveries, and
// add the jobs for what is left (a push to send, a push fallback to wait for, work with no job).
//
// One error policy: best effort. What was committed stays committed; a step that fails is
// logged (with the caller's correlation id) and left to the safety nets: a stream re-reads the
// trail on its next wake-up or poll, and the reconcilers enqueue every notification still PENDING
// and every deployment not final that has no job. afterCommit never throws.
import type { DeploymentEvent, Notification } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import { progressNotifications, type DeliveryDeps, type DeliveryStep } from '../domain/notification-delivery.ts';
import type { LiveUpdates } from '../realtime/live-updates.ts';
import { enqueueDeployment, enqueueFirstSteps, enqueueNotifications, type NotificationJobAt } from './producers.ts';
import type { DeploymentJob, DeploymentQueue, NotificationQueue } from './queues.ts';

/** What a transaction committed, for what follows it. */
export interface Committed {
  /** Audit events: one message per deployment, carrying them. */
  events?: readonly (DeploymentEvent | null)[];
  /** Notifications just created (or still PENDING): their first delivery step is taken here. */
  notifications?: readonly (Notification | null)[];
  /** Notifications the caller delivered in-app: told to their users' live subscriptions. */
  deliveredInApp?: readonly Pick<Notification, 'id' | 'userId'>[];
  /** Deployments whose job is missing (the reconciler's finds). */
  deploymentJobs?: readonly DeploymentJob[];
  /** Notifications whose job is missing, as they are (no first step taken here). */
  notificationJobs?: readonly NotificationJobAt[];
  /**
   * A batch of notifications that one statement created (a campaign's expiry): handed to one
   * first-steps job, which takes their first steps in bulk in a worker, behind users' own work.
   */
  firstStepsBatch?: readonly { id: string; correlationId: string; createdAt: Date }[];
  /** The new notifications are a campaign's: the jobs their first steps leave wait behind users' own actions. */
  background?: boolean;
}

export interface AfterCommitDeps {
  liveUpdates: LiveUpdates;
  notificationQueue: NotificationQueue;
  deploymentQueue: DeploymentQueue;
  /** For the first delivery step of new notifications. */
  delivery: DeliveryDeps;
  logger: Logger;
}

export type AfterCommit = (committed: Committed, log?: Logger) => Promise<void>;

export function createAfterCommit({ liveUpdates, notificationQueue, deploymentQueue, delivery, logger }: AfterCommitDeps): AfterCommit {
  /** One policy for every step: logged, never thrown. */
  async function bestEffort(log: Logger, what: string, step: () => Promise<unknown>) {
    try {
      await step();
    } catch (error) {
      log.warn({ err: error }, `after commit: could not ${what}; the safety net will`);
    }
  }

  /** The first delivery step of new notifications; the jobs of those it leaves unsettled. */
  async function firstSteps(log: Logger, notifications: Notification[], background: boolean): Promise<NotificationJobAt[]> {
    let steps = new Map<string, DeliveryStep>();
    await bestEffort(log, "take the notifications' first step", async () => {
      const progress = await progressNotifications(delivery, notifications);
      steps = progress.steps;
      await announceInApp(log, progress.deliveredInApp);
    });
    return notifications.flatMap((n) => {
      const step = steps.get(n.id);
      const stepLog = log.child({ correlationId: n.correlationId, notificationId: n.id });
      if (step?.kind === 'done') {
        stepLog.info({ outcome: step.outcome }, 'notification settled');
        return [];
      }
      if (step?.kind === 'wait') stepLog.info({ pushDueAt: step.until }, 'delivered in-app; push fallback scheduled');
      // A push to send, a fallback to wait for, or a step that failed: its job takes it from here.
      return [
        {
          notificationId: n.id,
          correlationId: n.correlationId,
          ...(step?.kind === 'wait' ? { runAt: step.until } : {}),
          ...(background ? { background } : {}),
        },
      ];
    });
  }

  async function announceInApp(log: Logger, delivered: readonly Pick<Notification, 'id' | 'userId'>[]) {
    if (delivered.length === 0) return;
    // Committed first, so subscribers read them as DELIVERED. A lost message is what the push fallback is for.
    await bestEffort(log, 'publish the in-app notifications', () => Promise.all(delivered.map((n) => liveUpdates.publishNotification(n.userId, n.id))));
  }

  return async function afterCommit(committed: Committed, log: Logger = logger): Promise<void> {
    const events = (committed.events ?? []).filter((e): e is DeploymentEvent => e !== null);
    if (events.length > 0) await bestEffort(log, 'publish deployment events', () => liveUpdates.publishDeploymentEvents(events));
    await announceInApp(log, committed.deliveredInApp ?? []);
    const fresh = (committed.notifications ?? []).filter((n): n is Notification => n !== null);
    const notificationJobs = [...(fresh.length > 0 ? await firstSteps(log, fresh, committed.background ?? false) : []), ...(committed.notificationJobs ?? [])];
    if (notificationJobs.length > 0) await enqueueNotifications(notificationQueue, notificationJobs, log);
    // Best effort inside: a batch whose job is lost is enqueued by the notification reconciler.
    if (committed.firstStepsBatch?.length) await enqueueFirstSteps(notificationQueue, committed.firstStepsBatch, log);
    for (const job of committed.deploymentJobs ?? []) {
      await bestEffort(log.child({ deploymentId: job.deploymentId, correlationId: job.correlationId }), 'enqueue the deployment', () =>
        enqueueDeployment(deploymentQueue, job),
      );
    }
  };
}
