// The notification job: a thin shell around the notification's next step, taken with the other
// jobs the worker runs at once (notification-batcher.ts, src/domain/notification-delivery.ts).
// One job per notification (its id is the notification id) that lives until the notification is
// settled: after an in-app delivery it moves itself to the delayed set until the push fallback is
// due; a transient push failure makes it fail and retry with backoff.
import { DelayedError, type Job } from 'bullmq';
import type { Logger } from '../platform/logger.ts';
import type { AfterCommit } from './after-commit.ts';
import type { NotificationBatcher } from './notification-batcher.ts';
import type { NotificationJob } from './queues.ts';

export interface DeliverNotificationDeps {
  batcher: NotificationBatcher;
  afterCommit: AfterCommit;
  logger: Logger;
}

export function createDeliverNotificationProcessor({ batcher, afterCommit, logger: base }: DeliverNotificationDeps) {
  return async function deliverNotification(job: Job<NotificationJob>, token?: string): Promise<string> {
    const { notificationId, correlationId } = job.data;
    const attempt = job.attemptsMade + 1;
    const logger = base.child({ correlationId, notificationId, jobId: job.id, attempt });
    const finalAttempt = attempt >= (job.opts.attempts ?? 1);

    const { step, deliveredInApp } = await batcher.progress(notificationId, { finalAttempt });
    await afterCommit({ deliveredInApp }, logger);
    switch (step.kind) {
      case 'wait':
        logger.info({ pushDueAt: step.until }, 'delivered in-app; push fallback scheduled');
        // Not an attempt: the job comes back at the due time with its attempts intact.
        await job.moveToDelayed(step.until.getTime(), token);
        throw new DelayedError();
      case 'retry':
        logger.warn({ error: step.error }, 'push failed transiently; retrying');
        throw new Error(step.error);
      case 'push-due':
        throw new Error('a notification job sends its push: push-due is a first step only');
      case 'done':
        logger.info({ outcome: step.outcome }, 'notification settled');
        return step.outcome;
    }
  };
}
