// Applying an accepted offer to the user's credit profile: the steps of a deployment, each one
// transaction that also appends its audit events (and, at the end, creates the user's notification).
// Callers publish the returned events and enqueue the notification after commit.
import { prisma, type CreditDeploymentStatus, type DeploymentEvent, type Tx } from './db.ts';
import { appendEvent, isFinal } from './deployment-events.ts';
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
  startedAt: Date | null;
}

/** Locks the deployment's row for the rest of the transaction: one step at a time per deployment. */
async function lockDeployment(tx: Tx, id: string): Promise<LockedDeployment | null> {
  const rows = await tx.$queryRaw<LockedDeployment[]>`
    SELECT id, status::text AS status, offer_id AS "offerId", user_id AS "userId",
           correlation_id AS "correlationId", currency, new_limit_cents AS "newLimitCents",
           queued_at AS "queuedAt", started_at AS "startedAt"
      FROM credit_deployments WHERE id = ${id}::uuid FOR UPDATE`;
  return rows[0] ?? null;
}

const elapsedMs = (from: Date, to: Date) => Math.max(0, to.getTime() - from.getTime());

/** Marks an attempt as started. Null when the deployment is already final (or unknown). */
export async function startAttempt(id: string, now = new Date()): Promise<DeploymentEvent | null> {
  return prisma.$transaction(async (tx) => {
    const deployment = await lockDeployment(tx, id);
    if (!deployment || isFinal(deployment.status)) return null;
    const { event } = await appendEvent(tx, deployment, {
      type: 'PROCESSING_STARTED',
      status: 'PROCESSING',
      changes: { attempts: { increment: 1 }, startedAt: deployment.startedAt ?? now },
    });
    return event;
  });
}

export type ApplyOutcome =
  | { kind: 'deployed'; events: DeploymentEvent[] }
  | { kind: 'failed'; reason: string; events: DeploymentEvent[] }
  | { kind: 'already-final'; events: [] };

/** Why the offer cannot be applied, or null when it can. Permanent: retrying cannot change it. */
function refusal(offerStatus: string, profile: LockedProfile, deployment: LockedDeployment): string | null {
  if (offerStatus !== 'ACCEPTED') return `the offer is no longer valid (it is ${offerStatus})`;
  if (profile.currency !== deployment.currency && profile.limitCents > 0n) {
    return `the offer is in ${deployment.currency} but the credit profile is in ${profile.currency}`;
  }
  if (deployment.newLimitCents < profile.usedCents) {
    const limit = formatMoney({ cents: deployment.newLimitCents, currency: deployment.currency });
    const used = formatMoney({ cents: profile.usedCents, currency: profile.currency });
    return `the offered limit ${limit} is below the credit in use ${used}`;
  }
  return null;
}

interface LockedProfile {
  limitCents: bigint;
  usedCents: bigint;
  currency: string;
  version: number;
}

/** The user's profile, created empty on the first deployment, locked for the transaction. */
async function lockProfile(tx: Tx, userId: string, currency: string, interestRateBps: number): Promise<LockedProfile> {
  const rows = await tx.$queryRaw<LockedProfile[]>`
    INSERT INTO credit_profiles (user_id, currency, limit_cents, used_cents, available_cents, interest_rate_bps, version, updated_at)
    VALUES (${userId}, ${currency}, 0, 0, 0, ${interestRateBps}, 0, now())
    ON CONFLICT (user_id) DO UPDATE SET updated_at = credit_profiles.updated_at
    RETURNING limit_cents AS "limitCents", used_cents AS "usedCents", currency, version`;
  return rows[0]!;
}

/**
 * Applies the offer: in one transaction, with the deployment and profile rows locked, raises the
 * profile, marks offer and deployment DEPLOYED and appends the audit events. Running it again on
 * a final deployment changes nothing: the effect happens exactly once.
 */
export async function applyCreditOffer(id: string, now = new Date()): Promise<ApplyOutcome> {
  return prisma.$transaction(async (tx) => {
    const deployment = await lockDeployment(tx, id);
    if (!deployment || isFinal(deployment.status)) return { kind: 'already-final', events: [] };
    const offer = await tx.creditOffer.findUniqueOrThrow({ where: { id: deployment.offerId } });
    const profile = await lockProfile(tx, deployment.userId, deployment.currency, offer.interestRateBps);
    const reason = refusal(offer.status, profile, deployment);
    if (reason) return { kind: 'failed', reason, events: [await recordFailure(tx, deployment, reason, now)] };

    const limitCents = deployment.newLimitCents;
    const availableCents = limitCents > profile.usedCents ? limitCents - profile.usedCents : 0n;
    const updated = await tx.creditProfile.update({
      where: { userId: deployment.userId },
      data: {
        currency: deployment.currency,
        limitCents,
        availableCents,
        interestRateBps: offer.interestRateBps,
        version: { increment: 1 },
        lastLimitChangeAt: now,
        updatedAt: now,
      },
    });
    await tx.creditOffer.update({ where: { id: offer.id }, data: { status: 'DEPLOYED' } });
    const profileEvent = await appendEvent(tx, deployment, {
      type: 'PROFILE_UPDATED',
      status: 'PROCESSING',
      detail: {
        previousLimitCents: profile.limitCents.toString(),
        newLimitCents: limitCents.toString(),
        availableCents: availableCents.toString(),
        interestRateBps: offer.interestRateBps,
        profileVersion: updated.version,
      },
    });
    const deployedEvent = await appendEvent(tx, deployment, {
      type: 'DEPLOYED',
      status: 'DEPLOYED',
      changes: { previousLimitCents: profile.limitCents, completedAt: now, processingMs: elapsedMs(deployment.queuedAt, now) },
    });
    await notifyDeploymentEnd(tx, deployment, 'CREDIT_DEPLOYED');
    return { kind: 'deployed', events: [profileEvent.event, deployedEvent.event] };
  });
}

async function recordFailure(tx: Tx, deployment: LockedDeployment, reason: string, now: Date): Promise<DeploymentEvent> {
  await tx.creditOffer.update({ where: { id: deployment.offerId }, data: { status: 'FAILED' } });
  const { event } = await appendEvent(tx, deployment, {
    type: 'FAILED',
    status: 'FAILED',
    detail: { reason },
    changes: { failureReason: reason, completedAt: now, processingMs: elapsedMs(deployment.queuedAt, now) },
  });
  await notifyDeploymentEnd(tx, deployment, 'CREDIT_DEPLOYMENT_FAILED');
  return event;
}

/** Ends a deployment FAILED (no-op when already final). */
export async function failDeployment(id: string, reason: string, now = new Date()): Promise<DeploymentEvent | null> {
  return prisma.$transaction(async (tx) => {
    const deployment = await lockDeployment(tx, id);
    if (!deployment || isFinal(deployment.status)) return null;
    return recordFailure(tx, deployment, reason, now);
  });
}

/** Records that an attempt failed transiently and another follows after `retryInMs`. */
export async function scheduleRetry(id: string, attempt: number, error: string, retryInMs: number): Promise<DeploymentEvent | null> {
  return prisma.$transaction(async (tx) => {
    const deployment = await lockDeployment(tx, id);
    if (!deployment || isFinal(deployment.status)) return null;
    const { event } = await appendEvent(tx, deployment, {
      type: 'RETRY_SCHEDULED',
      status: 'RETRYING',
      detail: { attempt, error, retryInMs },
    });
    return event;
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
