// The notification job: a thin shell around progressNotification (src/domain/notification-delivery.ts).
// One job per notification (its id is the notification id) that lives until the notification is
// settled: after an in-app delivery it moves itself to the delayed set until the push fallback is
// due; a transient push failure makes it fail and retry with backoff.
import { DelayedError, type Job } from 'bullmq';
import { progressNotification, type DeliveryDeps } from '../domain/notification-delivery.ts';
import type { AfterCommit } from './after-commit.ts';
import type { NotificationJob } from './queues.ts';

export interface DeliverNotificationDeps {
  delivery: DeliveryDeps;
  afterCommit: AfterCommit;
}

export function createDeliverNotificationProcessor({ delivery, afterCommit }: DeliverNotificationDeps) {
  return async function deliverNotification(job: Job<NotificationJob>, token?: string): Promise<string> {
    const { notificationId, correlationId } = job.data;
    const attempt = job.attemptsMade + 1;
    const logger = delivery.logger.child({ correlationId, notificationId, jobId: job.id, attempt });
    const finalAttempt = attempt >= (job.opts.attempts ?? 1);

    const { step, deliveredInApp } = await progressNotification({ ...delivery, logger }, notificationId, { finalAttempt });
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
