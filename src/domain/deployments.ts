// Applying an accepted offer to the user's credit profile: the steps of a deployment, each one
// transaction that also appends its audit events (and, at the end, creates the user's notification).
// Callers publish the returned events and enqueue the notification after commit.
import { prisma, Prisma, type CreditDeploymentStatus, type DeploymentEvent, type DeploymentFailureCode, type Notification, type Tx } from '../platform/db.ts';
import type { TransientFailureCode } from './transient-failures.ts';
import { limitChangedByDeployment } from './credit-events.ts';
import { countDeployed, countFailed, countRetries } from './deployment-metrics.ts';
import { appendEvent, FINAL_STATUSES, isFinal } from './deployment-events.ts';
import { formatMoney } from './money.ts';
import { notifyDeploymentEnd } from './notifications.ts';

interface LockedDeployment {
  id: string;
  status: CreditDeploymentStatus;
  offerId: string;
  userId: string;
  correlationId: string;
  currency: string;
  newLimitCents: bigint;
  queuedAt: Date;
  offerStatus: string;
  interestRateBps: number;
  /** The user's acceptance sequence of this deployment (0 for ones accepted before sequences existed). */
  acceptanceSequence: number;
  /** The user's language, for the notification of the end. */
  locale: string | null;
}

/**
 * Locks the deployment's row for the rest of the transaction (one step at a time per
 * deployment) and reads its offer's terms and its user's language with it.
 */
async function lockDeployment(tx: Tx, id: string): Promise<LockedDeployment | null> {
  const rows = await tx.$queryRaw<LockedDeployment[]>`
    SELECT d.id, d.status::text AS status, d.offer_id AS "offerId", d.user_id AS "userId",
           d.correlation_id AS "correlationId", d.currency, d.new_limit_cents AS "newLimitCents",
           d.queued_at AS "queuedAt", o.status::text AS "offerStatus", o.interest_rate_bps AS "interestRateBps",
           coalesce(d.acceptance_sequence, 0) AS "acceptanceSequence", u.locale
      FROM credit_deployments d JOIN credit_offers o ON o.id = d.offer_id JOIN users u ON u.id = d.user_id
     WHERE d.id = ${id}::uuid FOR UPDATE OF d`;
  return rows[0] ?? null;
}

const elapsedMs = (from: Date, to: Date) => Math.max(0, to.getTime() - from.getTime());

/** Marks an attempt as started. Null when the deployment is already final (or unknown). */
export async function startAttempt(id: string, now = new Date()): Promise<DeploymentEvent | null> {
  const rows = await prisma.$queryRaw<DeploymentEvent[]>`
    WITH u AS (
      UPDATE credit_deployments SET attempts = attempts + 1, started_at = coalesce(started_at, ${now}),
             status = 'PROCESSING', last_sequence = last_sequence + 1
       WHERE id = ${id}::uuid AND status::text NOT IN (${Prisma.join(FINAL_STATUSES)})
      RETURNING id, last_sequence, correlation_id)
    INSERT INTO deployment_events (deployment_id, sequence, type, status, correlation_id)
    SELECT id, last_sequence, 'PROCESSING_STARTED', 'PROCESSING'::credit_deployment_status, correlation_id FROM u
    RETURNING id, deployment_id AS "deploymentId", sequence, type, status::text AS status, at, correlation_id AS "correlationId", detail`;
  return rows[0] ?? null;
}

/** What ending a deployment committed: its audit events and the user's notification of it. */
export interface Ending {
  events: DeploymentEvent[];
  /** Null when the end already had its notification (a repeated run). */
  notification: Notification | null;
}

/** Why a deployment ends FAILED: the public code, and for ops (logs, the stored reason) what exactly. */
export interface Failure {
  code: DeploymentFailureCode;
  /** For ops, in English; customers read the text rendered from the code instead. */
  reason: string;
}

export type ApplyOutcome =
  | ({ kind: 'deployed'; processingMs: number } & Ending)
  | ({ kind: 'failed' } & Failure & Ending)
  | { kind: 'already-final'; events: []; notification: null };

/** What the refusal rules read of a deployment and of its user's profile. */
export type RefusalInput = [
  profile: Pick<LockedProfile, 'limitCents' | 'usedCents' | 'currency' | 'appliedAcceptanceSequence'>,
  deployment: Pick<LockedDeployment, 'offerStatus' | 'acceptanceSequence' | 'currency' | 'newLimitCents'>,
];

/** Why the offer cannot be applied, or null when it can. Permanent: retrying cannot change it. */
export function refusal(...[profile, deployment]: RefusalInput): Failure | null {
  if (deployment.offerStatus !== 'ACCEPTED') {
    return { code: 'OFFER_NOT_VALID', reason: `the offer is no longer valid (it is ${deployment.offerStatus})` };
  }
  if (deployment.acceptanceSequence < profile.appliedAcceptanceSequence) {
    return {
      code: 'SUPERSEDED',
      reason: `acceptance ${deployment.acceptanceSequence} reached the worker after acceptance ${profile.appliedAcceptanceSequence} was applied`,
    };
  }
  if (profile.currency !== deployment.currency && profile.limitCents > 0n) {
    return { code: 'CURRENCY_MISMATCH', reason: `the offer is in ${deployment.currency} but the credit profile is in ${profile.currency}` };
  }
  if (deployment.newLimitCents < profile.usedCents) {
    const limit = formatMoney({ cents: deployment.newLimitCents, currency: deployment.currency });
    const used = formatMoney({ cents: profile.usedCents, currency: profile.currency });
    return { code: 'LIMIT_BELOW_USAGE', reason: `the offered limit ${limit} is below the credit in use ${used}` };
  }
  return null;
}

interface LockedProfile {
  limitCents: bigint;
  usedCents: bigint;
  currency: string;
  version: number;
  /** The acceptance whose terms the profile holds. */
  appliedAcceptanceSequence: number;
}

/** The user's profile, created empty on the first deployment, locked for the transaction. */
async function lockProfile(tx: Tx, userId: string, currency: string, interestRateBps: number): Promise<LockedProfile> {
  const rows = await tx.$queryRaw<LockedProfile[]>`
    INSERT INTO credit_profiles (user_id, currency, limit_cents, used_cents, available_cents, interest_rate_bps, version, updated_at)
    VALUES (${userId}, ${currency}, 0, 0, 0, ${interestRateBps}, 0, now())
    ON CONFLICT (user_id) DO UPDATE SET updated_at = credit_profiles.updated_at
    RETURNING limit_cents AS "limitCents", used_cents AS "usedCents", currency, version, applied_acceptance_sequence AS "appliedAcceptanceSequence"`;
  return rows[0]!;
}

/**
 * Applies the offer: in one transaction, with the deployment and profile rows locked, raises the
 * profile, marks offer and deployment DEPLOYED and appends the audit events. Running it again on
 * a final deployment changes nothing: the effect happens exactly once.
 */
export async function applyCreditOffer(id: string, now = new Date()): Promise<ApplyOutcome> {
  const outcome = await applyInTransaction(id, now);
  if (outcome.kind === 'deployed') countDeployed(outcome.processingMs);
  if (outcome.kind === 'failed') countFailed(outcome.code);
  return outcome;
}

function applyInTransaction(id: string, now: Date): Promise<ApplyOutcome> {
  return prisma.$transaction(async (tx) => {
    const deployment = await lockDeployment(tx, id);
    if (!deployment || isFinal(deployment.status)) return { kind: 'already-final', events: [], notification: null };
    const { interestRateBps } = deployment;
    const profile = await lockProfile(tx, deployment.userId, deployment.currency, interestRateBps);
    const refused = refusal(profile, deployment);
    if (refused) return { kind: 'failed', ...refused, ...(await recordFailure(tx, deployment, refused, now)) };

    const limitCents = deployment.newLimitCents;
    const processingMs = elapsedMs(deployment.queuedAt, now);
    const availableCents = limitCents > profile.usedCents ? limitCents - profile.usedCents : 0n;
    // All the writes in one statement, the downstream event's too: fewer round trips while the rows are locked.
    const events = await tx.$queryRaw<DeploymentEvent[]>`
      WITH p AS (
        UPDATE credit_profiles SET currency = ${deployment.currency}, limit_cents = ${limitCents}, available_cents = ${availableCents},
               interest_rate_bps = ${interestRateBps}, version = version + 1, last_limit_change_at = ${now}, updated_at = ${now},
               applied_acceptance_sequence = ${deployment.acceptanceSequence}
         WHERE user_id = ${deployment.userId} RETURNING version),
      o AS (UPDATE credit_offers SET status = 'DEPLOYED' WHERE id = ${deployment.offerId}::uuid),
      d AS (
        UPDATE credit_deployments SET status = 'DEPLOYED', last_sequence = last_sequence + 2, previous_limit_cents = ${profile.limitCents},
               completed_at = ${now}, processing_ms = ${processingMs}
         WHERE id = ${id}::uuid RETURNING last_sequence),
      ${limitChangedByDeployment({
        ...deployment, deploymentId: id, occurredAt: now, newLimitCents: limitCents, availableCents, usedCents: profile.usedCents,
        // A profile at version 0 was created empty by this transaction: there was no credit line before.
        previousLimitCents: profile.version === 0 ? null : profile.limitCents,
      })}
      INSERT INTO deployment_events (deployment_id, sequence, type, status, correlation_id, detail)
      SELECT ${id}::uuid, d.last_sequence - 1, 'PROFILE_UPDATED', 'PROCESSING'::credit_deployment_status, ${deployment.correlationId},
             jsonb_build_object('previousLimitCents', ${profile.limitCents.toString()}::text, 'newLimitCents', ${limitCents.toString()}::text,
                                'availableCents', ${availableCents.toString()}::text, 'interestRateBps', ${interestRateBps}::int, 'profileVersion', p.version)
        FROM d, p
      UNION ALL
      SELECT ${id}::uuid, d.last_sequence, 'DEPLOYED', 'DEPLOYED'::credit_deployment_status, ${deployment.correlationId}, NULL::jsonb FROM d
      RETURNING id, deployment_id AS "deploymentId", sequence, type, status::text AS status, at, correlation_id AS "correlationId", detail`;
    const notification = await notifyDeploymentEnd(tx, deployment, 'CREDIT_DEPLOYED');
    return { kind: 'deployed', processingMs, events: events.sort((x, y) => x.sequence - y.sequence), notification };
  });
}

async function recordFailure(tx: Tx, deployment: LockedDeployment, failure: Failure, now: Date): Promise<Ending> {
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

/** Why an operator's retry of this deployment's job must not run (it is final), or null. */
export async function retryRefusal(id: string): Promise<string | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  const deployment = await prisma.creditDeployment.findUnique({ where: { id }, select: { status: true } });
  return deployment && isFinal(deployment.status) ? `the deployment is already ${deployment.status}: a retry would change nothing` : null;
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

/** The newest audit event of a deployment. */
export function newestEvent(id: string): Promise<DeploymentEvent | null> {
  return prisma.deploymentEvent.findFirst({ where: { deploymentId: id }, orderBy: { sequence: 'desc' } });
}

/** Audit events after a sequence, oldest first. */
export function eventsAfter(id: string, sequence: number): Promise<DeploymentEvent[]> {
  return prisma.deploymentEvent.findMany({ where: { deploymentId: id, sequence: { gt: sequence } }, orderBy: { sequence: 'asc' } });
}
