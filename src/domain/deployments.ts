// Applying accepted offers to credit profiles: an attempt's start, then the apply, each one
// transaction that also appends the deployments' audit events (and, at the end, creates the
// user's notification). Functions here return what they committed; they never publish or
// enqueue: the worker's after-commit step does (src/jobs/after-commit.ts).
//
// Beside this file: the row locks (deployment-locks.ts), the refusal rules (refusal-rules.ts),
// whose turn it is in a batch (batch-order.ts), the write statement (apply-writes.ts), how a
// deployment ends FAILED and its failed attempts (deployment-failures.ts), its audit trail
// (deployment-events.ts).
import { prisma, Prisma, type DeploymentEvent, type Tx } from '../platform/db.ts';
import { writeApplied, type Applicable } from './apply-writes.ts';
import { recordDeploymentLimitTerms } from './deployment-limit-terms.ts';
import { batchTurns } from './batch-order.ts';
import { EVENT_COLUMNS, FINAL_STATUSES, isFinal } from './deployment-events.ts';
import { elapsedMs, recordFailure, type Ending } from './deployment-failures.ts';
import { lockDeployment, lockFreeRows, lockProfile, type LockedPair } from './deployment-locks.ts';
import { countDeployed, countFailed } from './deployment-metrics.ts';
import { notifyDeploymentEnds } from './notifications.ts';
import { refusal, type Failure } from './refusal-rules.ts';

/** Marks an attempt as started. Null when the deployment is already final (or unknown). */
export async function startAttempt(id: string, now = new Date(), db: Pick<Tx, '$queryRaw'> = prisma): Promise<DeploymentEvent | null> {
  const rows = await db.$queryRaw<DeploymentEvent[]>`
    WITH u AS (
      UPDATE credit_deployments SET attempts = attempts + 1, started_at = coalesce(started_at, ${now}),
             status = 'PROCESSING', last_sequence = last_sequence + 1
       WHERE id = ${id}::uuid AND status::text NOT IN (${Prisma.join(FINAL_STATUSES)})
      RETURNING id, last_sequence, correlation_id)
    INSERT INTO deployment_events (deployment_id, sequence, type, status, correlation_id)
    SELECT id, last_sequence, 'PROCESSING_STARTED', 'PROCESSING'::credit_deployment_status, correlation_id FROM u
    RETURNING ${EVENT_COLUMNS}`;
  return rows[0] ?? null;
}

/** What applying one deployment came to. */
export type ApplyOutcome =
  | ({ kind: 'deployed'; processingMs: number } & Ending)
  | ({ kind: 'failed' } & Failure & Ending)
  | { kind: 'already-final'; events: []; notification: null };

/** What one deployment of a batch came to: applied (or refused), or not this batch's to apply (batch-order.ts). */
export type DeploymentOutcome = ApplyOutcome | { kind: 'skipped' } | { kind: 'not-yet' } | { kind: 'deferred' };

const ALREADY_FINAL = { kind: 'already-final', events: [], notification: null } as const satisfies ApplyOutcome;

/**
 * Applies accepted offers, several deployments in one transaction, in their turn (batch-order.ts):
 * each keeps its own audit events and sequence, downstream event and notification. Rows another
 * transaction holds are not waited for. Running it again on a final deployment changes nothing:
 * the effect happens exactly once. `started`: the attempts were started already (startAttempt);
 * otherwise the batch starts them.
 */
export async function applyDeployments(ids: readonly string[], options: { now?: Date; started?: boolean } = {}): Promise<Map<string, DeploymentOutcome>> {
  const now = options.now ?? new Date();
  const outcomes = await prisma.$transaction(async (tx) => applyLocked(tx, ids, await lockFreeRows(tx, ids), now, options.started ?? false));
  countEnds(outcomes.values());
  return outcomes;
}

/**
 * Applies the offer of one deployment whose attempt was started, waiting for its rows (alone, a
 * deployment waits for nothing but its rows: an older acceptance applied after a newer one ends
 * SUPERSEDED). Running it again on a final deployment changes nothing.
 */
export async function applyCreditOffer(id: string, now = new Date()): Promise<ApplyOutcome> {
  const outcomes = await prisma.$transaction(async (tx) => {
    const deployment = await lockDeployment(tx, id);
    if (!deployment) return new Map<string, DeploymentOutcome>([[id, ALREADY_FINAL]]);
    const profile = isFinal(deployment.status) ? null : await lockProfile(tx, deployment.userId, deployment.currency, deployment.interestRateBps);
    return applyLocked(tx, [id], [{ ...deployment, profile, earlierPending: false }], now, true);
  });
  countEnds(outcomes.values());
  const outcome = outcomes.get(id)!;
  if (outcome.kind !== 'deployed' && outcome.kind !== 'failed' && outcome.kind !== 'already-final') {
    throw new Error(`unexpected ${outcome.kind} of a deployment applied alone`);
  }
  return outcome;
}

function countEnds(outcomes: Iterable<DeploymentOutcome>) {
  for (const outcome of outcomes) {
    if (outcome.kind === 'deployed') countDeployed(outcome.processingMs);
    if (outcome.kind === 'failed') countFailed(outcome.code);
  }
}

/** The apply of the locked rows, in their turn: refusals end FAILED, the rest is written in one statement. */
async function applyLocked(tx: Tx, ids: readonly string[], locked: LockedPair[], now: Date, started: boolean): Promise<Map<string, DeploymentOutcome>> {
  const turns = batchTurns(
    ids,
    locked.map((pair) => ({ ...pair, final: isFinal(pair.status), profileHeld: pair.profile === null })),
  );
  const outcomes = new Map<string, DeploymentOutcome>();
  const applicable: Applicable[] = [];
  for (const [id, turn] of turns) {
    if (turn !== 'apply') outcomes.set(id, turn === 'already-final' ? ALREADY_FINAL : { kind: turn });
  }
  for (const pair of locked) {
    if (turns.get(pair.id) !== 'apply') continue;
    const { profile, earlierPending: _, ...deployment } = pair;
    const refused = refusal(profile!, deployment);
    if (!refused) {
      applicable.push({ deployment, profile: profile! });
      continue;
    }
    const startEvent = started ? null : await startAttempt(deployment.id, now, tx);
    const ending = await recordFailure(tx, deployment, refused, now);
    outcomes.set(deployment.id, { kind: 'failed', ...refused, ...ending, events: [...(startEvent ? [startEvent] : []), ...ending.events] });
  }
  if (applicable.length === 0) return outcomes;
  const events = await writeApplied(tx, applicable, now, started);
  await recordDeploymentLimitTerms(tx, applicable, now);
  const notifications = await notifyDeploymentEnds(tx, applicable.map((a) => a.deployment), 'CREDIT_DEPLOYED');
  for (const { deployment } of applicable) {
    outcomes.set(deployment.id, {
      kind: 'deployed',
      processingMs: elapsedMs(deployment.queuedAt, now),
      events: events.filter((event) => event.deploymentId === deployment.id),
      notification: notifications.find((n) => n.deploymentId === deployment.id) ?? null,
    });
  }
  return outcomes;
}
