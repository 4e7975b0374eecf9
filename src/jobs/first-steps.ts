// The first-steps job of a batch of notifications (a campaign's issuance hands over one job per
// batch): reads them as stored and hands them to afterCommit, which takes their first delivery
// step in bulk (in-app to present users, SKIPPED where nothing can be sent) and adds a background
// job for each push left to send. Running it twice takes no step twice: each step reads the
// notification as stored, and a notification's job id is its own id.
import type { Job } from 'bullmq';
import { notificationsByIds } from '../domain/notifications.ts';
import type { Logger } from '../platform/logger.ts';
import type { AfterCommit } from './after-commit.ts';
import type { NotificationBatchJob } from './queues.ts';

export interface FirstStepsDeps {
  afterCommit: AfterCommit;
  logger: Logger;
}

export function createFirstStepsProcessor({ afterCommit, logger }: FirstStepsDeps) {
  return async function firstSteps(job: Job<NotificationBatchJob>): Promise<string> {
    const { notificationIds, correlationId } = job.data;
    const log = logger.child({ correlationId, jobId: job.id });
    const notifications = await notificationsByIds(notificationIds);
    await afterCommit({ notifications, background: true }, log);
    log.info({ notifications: notifications.length }, "a batch's notifications took their first step");
    return `first steps of ${notifications.length}`;
  };
}
