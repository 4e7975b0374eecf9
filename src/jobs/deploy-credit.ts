// The deployment job: a thin shell around the steps in ../deployments.ts, deciding between
// retry (transient error) and the end (applied, refused, or out of attempts).
import { UnrecoverableError, type Job } from 'bullmq';
import { applyCreditOffer, failDeployment, newestEvent, scheduleRetry, startAttempt } from '../domain/deployments.ts';
import type { Logger } from '../platform/logger.ts';
import type { Realtime } from '../realtime/pubsub.ts';
import { enqueueNotifications, type DeploymentJob, type NotificationQueue } from './queues.ts';
import type { DeploymentEvent, Notification } from '../platform/db.ts';
import { undeliveredNotificationsOf } from '../domain/notifications.ts';

export interface DeployCreditDeps {
  realtime: Realtime;
  /** Where the notification of the deployment's end goes (delivered by the notifications worker). */
  notificationQueue: NotificationQueue;
  logger: Logger;
}

/** The delay before the next attempt, as BullMQ computes it from the job's options (exponential). */
function retryDelayMs(job: Job, attempt: number): number {
  const { backoff } = job.opts;
  const delay = typeof backoff === 'number' ? backoff : (backoff?.delay ?? 0);
  return typeof backoff === 'object' && backoff.type === 'fixed' ? delay : delay * 2 ** (attempt - 1);
}

export function createDeployCreditProcessor({ realtime, notificationQueue, logger }: DeployCreditDeps) {
  /** Publishing is best effort: the events are committed, and streams re-read them on the next message or poll. */
  async function publish(log: Logger, events: (DeploymentEvent | null)[]) {
    try {
      await realtime.publishDeploymentEvents(events.filter((e): e is DeploymentEvent => e !== null));
    } catch (error) {
      log.warn({ err: error }, 'could not publish deployment events');
    }
  }

  /** Hands the end's notifications (committed with it) to the notifications worker. */
  async function notify(log: Logger, notifications: (Pick<Notification, 'id' | 'correlationId'> | null)[]) {
    const jobs = notifications.flatMap((n) => (n ? [{ notificationId: n.id, correlationId: n.correlationId }] : []));
    await enqueueNotifications(notificationQueue, jobs, log);
  }

  return async function deployCredit(job: Job<DeploymentJob>): Promise<string> {
    const { deploymentId, correlationId } = job.data;
    const attempt = job.attemptsMade + 1;
    const log = logger.child({ correlationId, deploymentId, jobId: job.id, attempt });

    const started = await startAttempt(deploymentId);
    if (!started) {
      // Already final: a repeated run (crash after commit, stalled job). Re-announce the end in
      // case the first run died before publishing it.
      log.info('deployment already final; nothing to do');
      await publish(log, [await newestEvent(deploymentId)]);
      await notify(log, await undeliveredNotificationsOf(deploymentId));
      return 'already-final';
    }
    await publish(log, [started]);
    log.info('deployment attempt started');

    let outcome;
    try {
      outcome = await applyCreditOffer(deploymentId);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (attempt < (job.opts.attempts ?? 1)) {
        const retryInMs = retryDelayMs(job, attempt);
        log.warn({ err: error, retryInMs }, 'deployment attempt failed; retrying');
        await publish(log, [await scheduleRetry(deploymentId, attempt, message, retryInMs)]);
        throw error;
      }
      log.error({ err: error }, 'deployment attempts exhausted');
      const ending = await failDeployment(deploymentId, {
        code: 'RETRIES_EXHAUSTED',
        reason: `gave up after ${attempt} attempts: ${message}`,
      });
      await publish(log, ending?.events ?? []);
      await notify(log, [ending?.notification ?? null]);
      throw new UnrecoverableError(message);
    }

    await publish(log, outcome.events);
    await notify(log, [outcome.notification]);
    if (outcome.kind === 'failed') {
      log.warn({ reason: outcome.reason }, 'deployment refused');
      throw new UnrecoverableError(outcome.reason);
    }
    log.info({ outcome: outcome.kind }, 'deployment finished');
    return outcome.kind;
  };
}
