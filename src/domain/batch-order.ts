// Whose turn it is in a group commit: which deployments of a batch apply now, which wait for a
// later batch, which go alone. Pure (no database, no clock), so each rule has a unit test:
// - a user's acceptances apply in order: one per user per batch, the earliest; the user's later
//   ones in the batch come back `deferred` (first in the next batch);
// - a deployment whose row another transaction holds is not waited for: `skipped`, applied alone
//   (its job waits for the row, as before batching);
// - a deployment whose profile is held elsewhere, or whose user has an earlier acceptance not final
//   outside the batch, is `not-yet`: it tries again in later batches, at most MAX_TURNS_WAITED
//   times, then goes alone (and the latest acceptance wins: an older one applied after it ends
//   SUPERSEDED);
// - a batch that failed as a whole sends each of its deployments alone, once, at once.

/** What the batch's locking statement found of one deployment. */
export interface LockedCandidate {
  id: string;
  userId: string;
  final: boolean;
  acceptanceSequence: number;
  /** Its user's profile row is held by another transaction (this batch could not lock it). */
  profileHeld: boolean;
  /** An earlier acceptance of its user, outside the batch, is not final yet. */
  earlierPending: boolean;
}

export type Turn =
  /** Its rows are locked and it is its user's turn: apply it (or refuse it) in this batch. */
  | 'apply'
  /** Already DEPLOYED or FAILED: nothing to do. */
  | 'already-final'
  /** Its row was held by another transaction: apply it alone. */
  | 'skipped'
  /** Its user's earlier acceptance is in this batch: next batch. */
  | 'deferred'
  /** Its profile is held elsewhere, or its user's earlier acceptance is not final: a later batch. */
  | 'not-yet';

/** The turn of each deployment of a batch (`ids`), given the rows its locking statement returned. */
export function batchTurns(ids: readonly string[], locked: readonly LockedCandidate[]): Map<string, Turn> {
  const turns = new Map<string, Turn>(ids.map((id) => [id, 'skipped']));
  const earliest = new Map<string, LockedCandidate>();
  for (const candidate of locked) {
    if (candidate.final) continue;
    const known = earliest.get(candidate.userId);
    if (!known || candidate.acceptanceSequence < known.acceptanceSequence) earliest.set(candidate.userId, candidate);
  }
  for (const candidate of locked) {
    if (candidate.final) turns.set(candidate.id, 'already-final');
    else if (earliest.get(candidate.userId) !== candidate) turns.set(candidate.id, 'deferred');
    else if (candidate.profileHeld || candidate.earlierPending) turns.set(candidate.id, 'not-yet');
    else turns.set(candidate.id, 'apply');
  }
  return turns;
}

/** Batches a deployment whose turn has not come goes back to before it is applied alone. */
export const MAX_TURNS_WAITED = 20;

/** A deployment waiting in the batcher. */
export interface Waiting {
  deploymentId: string;
  /** Batches that found it was not its turn yet. */
  turnsWaited: number;
}

export interface AfterBatch<W extends Waiting> {
  /** Back to the front of the queue, in this order (a user's later acceptance after their earlier one committed). */
  again: W[];
  /** To be applied alone. */
  alone: W[];
  /** Settled by the batch: their outcome is final for this attempt. */
  settled: W[];
}

/**
 * Where each deployment of a batch goes next, from the kind of its outcome; `null` when the batch
 * failed as a whole (it changed nothing, or, if its commit's answer was lost, everything: each job's
 * own attempt then finds its deployment final).
 */
export function afterBatch<W extends Waiting>(batch: readonly W[], kinds: ReadonlyMap<string, string> | null, maxTurns = MAX_TURNS_WAITED): AfterBatch<W> {
  const next: AfterBatch<W> = { again: [], alone: [], settled: [] };
  for (const waiting of batch) {
    const kind = kinds ? kinds.get(waiting.deploymentId) : 'skipped';
    if (kind === 'deferred') next.again.push(waiting);
    else if (kind === 'not-yet') {
      waiting.turnsWaited += 1;
      (waiting.turnsWaited <= maxTurns ? next.again : next.alone).push(waiting);
    } else if (kind === 'skipped' || kind === undefined) next.alone.push(waiting);
    else next.settled.push(waiting);
  }
  return next;
}
