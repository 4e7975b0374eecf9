// The deployment job: a thin shell around the domain's steps. Its deployment is applied with the
// others ready at the same time (the batcher), or alone when its rows were busy or its batch
// failed; what follows each commit goes through afterCommit. Business refusals end the job for
// good (UnrecoverableError); anything else thrown is transient trouble (classified for the
// customer's event and the logs) and is retried with the queue's backoff until the retry
// horizon, counted from the first attempt, has passed. An attempt that fails while the database
// is unreachable cannot record its RETRY_SCHEDULED event: the job keeps it (in Redis) and the next
// attempt that reaches the database writes it first.
import { UnrecoverableError, type Job } from 'bullmq';
import { newestEvent } from '../domain/deployment-events.ts';
import { readPairFromJson } from '../domain/deployment-locks.ts';
import { recordFailedAttempts, type AttemptFailureOutcome, type FailedAttempt } from '../domain/deployment-failures.ts';
import { applyCreditOffer, startAttempt, type ApplyOutcome } from '../domain/deployments.ts';
import { undeliveredNotificationsOf } from '../domain/notifications.ts';
import { classifyTransient } from '../domain/transient-failures.ts';
import type { Logger } from '../platform/logger.ts';
import type { AfterCommit } from './after-commit.ts';
import type { DeploymentBatcher } from './deployment-batcher.ts';
import type { DeploymentJob } from './queues.ts';
import { backoffOf, retryDelayMs } from './retry-backoff.ts';

export interface DeployCreditDeps {
  afterCommit: AfterCommit;
  logger: Logger;
  /** Transient trouble is retried this long from the first attempt; then the deployment ends FAILED. */
  retryHorizonMs: number;
  /** Applies the deployment with others ready at the same time. */
  batcher: DeploymentBatcher;
}

/** When the retry horizon of a job's deployment started: its first attempt (or, for older jobs, its creation). */
export const horizonStartOf = (job: Job<DeploymentJob>) => job.data.firstAttemptAt ?? job.timestamp;

export function createDeployCreditProcessor({ afterCommit, logger, retryHorizonMs, batcher }: DeployCreditDeps) {
  /** Announces recorded failures; ends the job for good when they ended the deployment. */
  async function settleFailures(log: Logger, outcome: AttemptFailureOutcome): Promise<void> {
    if (outcome.kind === 'already-final') return;
    await afterCommit({ events: outcome.events, notifications: outcome.kind === 'exhausted' ? [outcome.notification] : [] }, log);
    if (outcome.kind === 'exhausted') {
      // The line an alert matches: a customer's deployment lost to an outage longer than the horizon.
      log.error({ failureCode: outcome.code, reason: outcome.reason, retryHorizonMs }, 'deployment FAILED: retries exhausted');
      throw new UnrecoverableError(outcome.code);
    }
  }

  /** Writes what earlier attempts could not (the database was unreachable then), then forgets it. */
  async function recordEarlierFailures(job: Job<DeploymentJob>, log: Logger): Promise<void> {
    const unrecorded = job.data.unrecorded ?? [];
    if (unrecorded.length === 0) return;
    const outcome = await recordFailedAttempts(job.data.deploymentId, unrecorded);
    await job.updateData({ ...job.data, unrecorded: [] });
    await settleFailures(log, outcome);
  }

  /** The attempt of one deployment alone: started, then applied, waiting for rows another transaction holds. */
  async function attemptAlone(deploymentId: string, log: Logger): Promise<ApplyOutcome> {
    const started = await startAttempt(deploymentId);
    if (!started) return { kind: 'already-final', events: [], notification: null };
    await afterCommit({ events: [started] }, log);
    log.info('deployment attempt started alone');
    const outcome = await applyCreditOffer(deploymentId);
    await afterCommit({ events: outcome.events, notifications: [outcome.notification] }, log);
    return outcome;
  }

  async function attemptDeployment(job: Job<DeploymentJob>, log: Logger): Promise<string> {
    const { deploymentId } = job.data;
    await recordEarlierFailures(job, log);
    // With its batch-mates (what follows their commit is the batcher's); alone when its rows were busy or the batch failed.
    // The first attempt applies from what the accept read (a retry, or a job the reconciler added, reads).
    const read = job.attemptsMade === 0 && !job.data.unrecorded?.length ? readPairFromJson(job.data.read, deploymentId) : null;
    const batched = await batcher.apply(deploymentId, read);
    const outcome = batched.kind === 'apply-alone' ? await attemptAlone(deploymentId, log) : batched;
    switch (outcome.kind) {
      case 'already-final':
        // A repeated run (crash after commit, stalled job): what follows the commit again, in case
        // the first run died before it (each step is idempotent).
        log.info('deployment already final; nothing to do');
        await afterCommit({ events: [await newestEvent(deploymentId)], notifications: await undeliveredNotificationsOf(deploymentId) }, log);
        return 'already-final';
      case 'failed':
        log.warn({ failureCode: outcome.code, reason: outcome.reason }, 'deployment refused');
        throw new UnrecoverableError(outcome.code);
      case 'deployed':
        log.info({ outcome: outcome.kind }, 'deployment finished');
        return outcome.kind;
    }
  }

  /** Best effort: with Redis down too, the job cannot even be moved; its lock expires and it runs again. */
  async function keepInJob(job: Job<DeploymentJob>, data: DeploymentJob, log: Logger) {
    try {
      await job.updateData(data);
    } catch (error) {
      log.warn({ err: error }, 'could not update the job');
    }
  }

  /** Records the failed attempt (or keeps it in the job when the database is out of reach) and rethrows for BullMQ's backoff. */
  async function onTransientFailure(job: Job<DeploymentJob>, attempt: number, error: unknown, log: Logger): Promise<never> {
    const { code, cause } = classifyTransient(error);
    const now = Date.now();
    const firstAttemptAt = job.data.firstAttemptAt ?? (attempt === 1 ? (job.processedOn ?? now) : job.timestamp);
    const failed: FailedAttempt = {
      attempt,
      code,
      retryInMs: retryDelayMs(backoffOf(job), attempt, job.id ?? job.data.deploymentId),
      pastHorizon: now - firstAttemptAt >= retryHorizonMs,
    };
    // The raw error goes to the logs (with the correlation id), never to the customer.
    log.warn({ err: error, code, cause, retryInMs: failed.retryInMs, pastHorizon: failed.pastHorizon }, 'deployment attempt failed');
    const pending = [...(job.data.unrecorded ?? []), failed];
    let outcome: AttemptFailureOutcome;
    try {
      outcome = await recordFailedAttempts(job.data.deploymentId, pending);
    } catch (recordError) {
      log.warn({ err: recordError }, 'could not record the failed attempt; the next attempt will');
      await keepInJob(job, { ...job.data, firstAttemptAt, unrecorded: pending }, log);
      throw error;
    }
    await keepInJob(job, { ...job.data, firstAttemptAt, unrecorded: [] }, log);
    await settleFailures(log, outcome);
    throw error;
  }

  return async function deployCredit(job: Job<DeploymentJob>): Promise<string> {
    const { deploymentId, correlationId } = job.data;
    const attempt = job.attemptsMade + 1;
    const log = logger.child({ correlationId, deploymentId, jobId: job.id, attempt });
    try {
      return await attemptDeployment(job, log);
    } catch (error) {
      if (error instanceof UnrecoverableError) throw error;
      return onTransientFailure(job, attempt, error, log);
    }
  };
}
