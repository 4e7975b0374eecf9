// The first-steps job of a batch of notifications (a campaign's issuance hands over one job per
// batch): reads them as stored and hands them to afterCommit, which takes their first delivery
// step in bulk (in-app to present users, SKIPPED where nothing can be sent) and adds a background
// job for each push left to send. Running it twice takes no step twice: each step reads the
// notification as stored, and a notification's job id is its own id.
import type { Job } from 'bullmq';
import pLimit from 'p-limit';
import { notificationsByIds } from '../domain/notifications.ts';
import type { Logger } from '../platform/logger.ts';
import type { AfterCommit } from './after-commit.ts';
import type { NotificationBatchJob } from './queues.ts';

export interface FirstStepsDeps {
  afterCommit: AfterCommit;
  logger: Logger;
  /**
   * First-steps jobs of this process running at once (the others wait their turn in the job they
   * hold): each takes a thousand notifications' steps with a few statements of its own, and the
   * notification worker runs many more jobs at once than its pool has connections for them.
   */
  atOnce: number;
}

export function createFirstStepsProcessor({ afterCommit, logger, atOnce }: FirstStepsDeps) {
  const turn = pLimit(atOnce);
  return async function firstSteps(job: Job<NotificationBatchJob>): Promise<string> {
    const { notificationIds, correlationId } = job.data;
    const log = logger.child({ correlationId, jobId: job.id });
    const taken = await turn(async () => {
      const notifications = await notificationsByIds(notificationIds);
      await afterCommit({ notifications, background: true }, log);
      return notifications.length;
    });
    log.info({ notifications: taken }, "a batch's notifications took their first step");
    return `first steps of ${taken}`;
  };
}
