// How a deployment ends FAILED: refused by a rule (at once), or past its retry horizon
// (RETRIES_EXHAUSTED); and the failed attempts on the way (RETRY_SCHEDULED, RETRYING). Each in the
// transaction that holds the deployment's row, with its audit events and the user's notification.
import { prisma, type DeploymentEvent, type Notification, type Tx } from '../platform/db.ts';
import { appendEvent, isFinal } from './deployment-events.ts';
import { lockDeployment, type LockedDeployment } from './deployment-locks.ts';
import { countFailed, countRetries } from './deployment-metrics.ts';
import { notifyDeploymentEnd } from './notifications.ts';
import type { Failure } from './refusal-rules.ts';
import type { TransientFailureCode } from './transient-failures.ts';

/** What ending a deployment committed: its audit events and the user's notification of it. */
export interface Ending {
  events: DeploymentEvent[];
  /** Null when the end already had its notification (a repeated run). */
  notification: Notification | null;
}

export const elapsedMs = (from: Date, to: Date) => Math.max(0, to.getTime() - from.getTime());

/** Ends the locked deployment FAILED, its offer FAILED, with the event and the user's notification. */
export async function recordFailure(tx: Tx, deployment: LockedDeployment, failure: Failure, now: Date): Promise<Ending> {
  await tx.creditOffer.update({ where: { id: deployment.offerId }, data: { status: 'FAILED' } });
  const { event } = await appendEvent(tx, deployment, {
    type: 'FAILED',
    status: 'FAILED',
    detail: { code: failure.code },
    changes: { failureCode: failure.code, failureReason: failure.reason, completedAt: now, processingMs: elapsedMs(deployment.queuedAt, now) },
  });
  const notification = await notifyDeploymentEnd(tx, deployment, 'CREDIT_DEPLOYMENT_FAILED', failure.code);
  return { events: [event], notification };
}

/** Ends a deployment FAILED (no-op, null, when already final). */
export async function failDeployment(id: string, failure: Failure, now = new Date()): Promise<Ending | null> {
  const ending = await prisma.$transaction(async (tx) => {
    const deployment = await lockDeployment(tx, id);
    if (!deployment || isFinal(deployment.status)) return null;
    return recordFailure(tx, deployment, failure, now);
  });
  if (ending) countFailed(failure.code);
  return ending;
}

/** A failed attempt, as the worker saw it. */
export interface FailedAttempt {
  attempt: number;
  code: TransientFailureCode;
  /** When the next attempt starts after this one (public: the customer sees it). */
  retryInMs: number;
  /** It failed after the retry horizon: no retry; the deployment ends FAILED, RETRIES_EXHAUSTED. */
  pastHorizon: boolean;
}

export type AttemptFailureOutcome =
  | { kind: 'retrying'; events: DeploymentEvent[] }
  | ({ kind: 'exhausted' } & Failure & Ending)
  | { kind: 'already-final' };

/**
 * Records failed attempts: a RETRY_SCHEDULED event (RETRYING) for each, with its public code,
 * or, for the first that failed after the horizon, the end: FAILED with RETRIES_EXHAUSTED and
 * nothing applied. Several at once when attempts failed while the database was unreachable.
 */
export async function recordFailedAttempts(id: string, attempts: FailedAttempt[], now = new Date()): Promise<AttemptFailureOutcome> {
  const outcome = await recordFailedAttemptsInTransaction(id, attempts, now);
  if (outcome.kind === 'already-final') return outcome;
  const retries = outcome.events.filter((event) => event.type === 'RETRY_SCHEDULED');
  countRetries(retries.map((event) => String((event.detail as { code?: unknown } | null)?.code ?? 'UNKNOWN')));
  if (outcome.kind === 'exhausted') countFailed(outcome.code);
  return outcome;
}

function recordFailedAttemptsInTransaction(id: string, attempts: FailedAttempt[], now: Date): Promise<AttemptFailureOutcome> {
  return prisma.$transaction(async (tx) => {
    const deployment = await lockDeployment(tx, id);
    if (!deployment || isFinal(deployment.status)) return { kind: 'already-final' };
    // A job whose update failed after recording may bring the same attempts again: one event each.
    const recorded = await tx.$queryRaw<{ attempt: number }[]>`
      SELECT (detail->>'attempt')::int AS attempt FROM deployment_events WHERE deployment_id = ${id}::uuid AND type = 'RETRY_SCHEDULED'`;
    const known = new Set(recorded.map((r) => r.attempt));
    const events: DeploymentEvent[] = [];
    for (const failed of attempts) {
      if (known.has(failed.attempt)) continue;
      if (failed.pastHorizon) {
        const failure: Failure = {
          code: 'RETRIES_EXHAUSTED',
          reason: `transient trouble outlasted the retry horizon: attempt ${failed.attempt} failed with ${failed.code}`,
        };
        const ending = await recordFailure(tx, deployment, failure, now);
        return { kind: 'exhausted', ...failure, events: [...events, ...ending.events], notification: ending.notification };
      }
      const { event } = await appendEvent(tx, deployment, {
        type: 'RETRY_SCHEDULED',
        status: 'RETRYING',
        detail: { attempt: failed.attempt, code: failed.code, retryInMs: failed.retryInMs },
      });
      events.push(event);
    }
    return { kind: 'retrying', events };
  });
}
