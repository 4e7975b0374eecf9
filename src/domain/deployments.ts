// Applying accepted offers to credit profiles: an attempt's start, then the apply, each writing
// the deployments' audit events (and, at the end, the user's notification) with it. The common
// apply is one statement with no transaction around it (apply-in-one-statement.ts); the rest
// (refusals, a user's later acceptances, lifecycle terms, rows that changed or were held) is one
// transaction under row locks. Functions here return what they committed; they never publish or
// enqueue: the worker's after-commit step does (src/jobs/after-commit.ts).
//
// Beside this file: the row locks (deployment-locks.ts), the refusal rules (refusal-rules.ts),
// whose turn it is in a batch (batch-order.ts), the write statement (apply-writes.ts), how a
// deployment ends FAILED and its failed attempts (deployment-failures.ts), its audit trail
// (deployment-events.ts).
import { prisma, Prisma, type DeploymentEvent, type Tx } from '../platform/db.ts';
import { writeApplied, type Applicable } from './apply-writes.ts';
import { recordDeploymentLimitTerms } from './deployment-limit-terms.ts';
import { batchTurns, type Turn } from './batch-order.ts';
import { EVENT_COLUMNS, FINAL_STATUSES, isFinal } from './deployment-events.ts';
import { elapsedMs, recordFailure, type Ending } from './deployment-failures.ts';
import { lockDeployment, lockFreeRows, lockProfile, readRows, type LockedPair, type ReadPair } from './deployment-locks.ts';
import { applyInOneStatement } from './apply-in-one-statement.ts';
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
export async function applyDeployments(
  ids: readonly string[],
  options: { now?: Date; started?: boolean; reads?: ReadonlyMap<string, ReadPair> } = {},
): Promise<Map<string, DeploymentOutcome>> {
  const now = options.now ?? new Date();
  const started = options.started ?? false;
  const outcomes = new Map<string, DeploymentOutcome>();
  // The common case in one statement, with no transaction (apply-in-one-statement.ts); what it
  // leaves (not its turn, refused, a lifecycle term, rows changed or held) goes through the lock.
  // What the accepts read already (`reads`) is not read again: the statement's checks hold it to the rows as they are.
  const known = ids.flatMap((id) => options.reads?.get(id) ?? []);
  const unknown = ids.filter((id) => !options.reads?.has(id));
  const read = [...(unknown.length > 0 ? await readRows(unknown, ids) : []), ...known];
  const { turns, inOne } = inOneStatement(ids, read);
  for (const pair of read) if (isFinal(pair.status)) outcomes.set(pair.id, ALREADY_FINAL);
  if (inOne.length > 0) {
    const appliedUsers = new Set<string>();
    const byId = new Map(inOne.map((pair) => [pair.id, pair]));
    for (const [id, applied] of await applyInOneStatement(inOne, now, started)) {
      const deployment = byId.get(id)!;
      outcomes.set(id, { kind: 'deployed', processingMs: elapsedMs(deployment.queuedAt, now), ...applied });
      appliedUsers.add(deployment.userId);
    }
    // A user's later acceptances wait for the next batch, as under the lock (batch-order.ts).
    for (const pair of read) if (turns.get(pair.id) === 'deferred' && appliedUsers.has(pair.userId)) outcomes.set(pair.id, { kind: 'deferred' });
  }
  const rest = ids.filter((id) => !outcomes.has(id));
  if (rest.length > 0) {
    const locked = await prisma.$transaction(async (tx) => applyLocked(tx, rest, await lockFreeRows(tx, rest), now, started));
    for (const [id, outcome] of locked) outcomes.set(id, outcome);
  }
  countEnds(outcomes.values());
  return outcomes;
}

/** The turns read (unlocked), and the deployments the one statement may apply: their turn, not refused, no lifecycle term. */
function inOneStatement(ids: readonly string[], read: ReadPair[]): { turns: Map<string, Turn>; inOne: ReadPair[] } {
  const turns = batchTurns(
    ids,
    read.map((pair) => ({ ...pair, final: isFinal(pair.status), profileHeld: false })),
  );
  const inOne = read.filter((pair) => {
    if (turns.get(pair.id) !== 'apply' || pair.lifecycle) return false;
    const profile = pair.profile ?? { limitCents: 0n, usedCents: 0n, currency: pair.currency, appliedAcceptanceSequence: 0 };
    return refusal(profile, pair) === null;
  });
  return { turns, inOne };
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
