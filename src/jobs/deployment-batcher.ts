// Group commit of the deployment jobs: the jobs a worker runs at once hand their deployment to
// the batcher, which applies whatever is ready together, in one transaction (applyDeployments),
// then publishes the batch's live messages and enqueues its notifications in one go each. A
// batch never waits to fill: the first deployment to arrive starts one at once, and those that
// arrive while batches are in flight make the next. Each job gets its own deployment's outcome.
//
// Order: a user's later acceptance waits for a later batch when an earlier one is in the same
// batch, when the user's profile is held (by another batch, say), or when an earlier acceptance
// of the user is not final yet; so a user's deployments apply in acceptance order. Rows held for
// longer than a few batches are not waited for here: that deployment is applied alone (its job
// waits for the rows, as before batching), and the latest acceptance wins (an older one applied
// after it ends SUPERSEDED).
import { applyDeployments, type BatchOutcome } from '../domain/deployments.ts';
import { countBatch } from '../domain/deployment-metrics.ts';
import { firstDeliverySteps, type DeliveryDeps, type FirstStep } from '../domain/notification-delivery.ts';
import type { Notification } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import type { LiveUpdates } from '../realtime/live-updates.ts';
import { enqueueNotifications, type NotificationQueue } from './queues.ts';

export interface BatchSettings {
  /** Deployments one transaction applies at most. */
  maxBatch: number;
  /** Batches (transactions, connections) in flight at once per worker process. */
  maxInFlight: number;
}

export interface BatcherDeps {
  liveUpdates: LiveUpdates;
  notificationQueue: NotificationQueue;
  /** For the first delivery step of the batch's notifications, taken here rather than by a job. */
  delivery: DeliveryDeps;
  logger: Logger;
  settings: BatchSettings;
}

/** What a job gets back: its deployment's outcome once committed and announced, or `skipped`: apply it alone. */
export type BatchedOutcome = Exclude<BatchOutcome, { kind: 'deferred' } | { kind: 'not-yet' }>;

interface Waiting {
  deploymentId: string;
  /** Batches that found it was not its turn yet. */
  turnsWaited: number;
  resolve(outcome: BatchedOutcome): void;
}

/**
 * Batches a deployment whose turn has not come (its profile held, an earlier acceptance of its
 * user not final) goes back to; then it is applied alone, waiting for its rows (and, if its turn
 * still has not come, the latest acceptance wins).
 */
const MAX_TURNS_WAITED = 20;

type Ended = Extract<BatchOutcome, { kind: 'deployed' | 'failed' }>;

export function createDeploymentBatcher({ liveUpdates, notificationQueue, delivery, logger, settings }: BatcherDeps) {
  const log = logger.child({ component: 'deployment-batcher' });
  let waiting: Waiting[] = [];
  let inFlight = 0;
  let scheduled = false;

  /**
   * The first delivery step of the batch's notifications, as their jobs would take it, without
   * the jobs and together: delivered in-app (a job then waits, delayed, for the push fallback),
   * or settled with no push to send. A push to send (over the network), or a step that failed,
   * is left to a job at once. After a crash before this step, the notification reconciler
   * enqueues the job (the notification is still PENDING).
   */
  async function firstSteps(notifications: Notification[]) {
    let steps = new Map<string, FirstStep>();
    try {
      steps = await firstDeliverySteps(delivery, notifications);
    } catch (error) {
      log.warn({ err: error }, "could not take the notifications' first step; their jobs will");
    }
    return notifications.flatMap((n) => {
      const step = steps.get(n.id);
      const stepLog = () => delivery.logger.child({ correlationId: n.correlationId, notificationId: n.id });
      if (step?.kind === 'done') {
        stepLog().info({ outcome: step.outcome }, 'notification settled');
        return [];
      }
      if (step?.kind === 'wait') stepLog().info({ pushDueAt: step.until }, 'delivered in-app; push fallback scheduled');
      return [{ notificationId: n.id, correlationId: n.correlationId, ...(step?.kind === 'wait' ? { runAt: step.until } : {}) }];
    });
  }

  /** Publishing is best effort: the events are committed, and streams re-read them on the next message or poll. */
  async function announce(ended: Ended[]): Promise<void> {
    await liveUpdates
      .publishDeploymentEvents(ended.flatMap((outcome) => outcome.events))
      .catch((error: unknown) => log.warn({ err: error }, 'could not publish deployment events'));
    const jobs = await firstSteps(ended.flatMap((outcome) => (outcome.notification ? [outcome.notification] : [])));
    await enqueueNotifications(notificationQueue, jobs, log);
  }

  async function run(batch: Waiting[]): Promise<void> {
    countBatch(batch.length);
    try {
      const outcomes = await applyDeployments(batch.map((w) => w.deploymentId));
      await announce([...outcomes.values()].filter((o): o is Ended => o.kind === 'deployed' || o.kind === 'failed'));
      const again: Waiting[] = [];
      for (const w of batch) {
        const outcome = outcomes.get(w.deploymentId)!;
        if (outcome.kind === 'deferred') again.push(w);
        else if (outcome.kind === 'not-yet') {
          if (++w.turnsWaited <= MAX_TURNS_WAITED) again.push(w);
          else w.resolve({ kind: 'skipped' });
        } else w.resolve(outcome);
      }
      // A user's later acceptance goes first in the next batch, after their earlier one committed.
      waiting = [...again, ...waiting];
    } catch (error) {
      // The batch changed nothing (or, if the commit's answer was lost, everything: each job's
      // own attempt then finds its deployment final). Each job tries alone, once, at once.
      log.warn({ err: error, size: batch.length }, 'batch failed; its deployments are applied one by one');
      for (const w of batch) w.resolve({ kind: 'skipped' });
    }
  }

  function startBatches() {
    scheduled = false;
    while (inFlight < settings.maxInFlight && waiting.length > 0) {
      const batch = waiting.slice(0, settings.maxBatch);
      waiting = waiting.slice(batch.length);
      inFlight++;
      void run(batch).finally(() => {
        inFlight--;
        schedule();
      });
    }
  }

  /** Starts batches after the current turn of the event loop: jobs that arrive together go together. */
  function schedule() {
    if (scheduled || waiting.length === 0 || inFlight >= settings.maxInFlight) return;
    scheduled = true;
    setImmediate(startBatches);
  }

  return {
    /** Applies the deployment with whatever else is ready; resolves once committed and announced. */
    apply(deploymentId: string): Promise<BatchedOutcome> {
      return new Promise((resolve) => {
        waiting.push({ deploymentId, turnsWaited: 0, resolve });
        schedule();
      });
    },
  };
}

export type DeploymentBatcher = ReturnType<typeof createDeploymentBatcher>;
