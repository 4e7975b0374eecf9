// The insights consumer's state (an example of a downstream service, docs/events.md): a user's
// credit history built from their credit.limit.changed events, and a summary (limit,
// utilisation, last increase); a user.erased erases both (the sequence stays). Events are applied
// in the user's sequence order, each once.
import { prisma, type CreditHistoryEntry } from '../platform/db.ts';
import { CREDIT_LIMIT_CHANGED, USER_ERASED, type CreditEvent } from './downstream-events.ts';

export interface AppliedEvents {
  /** Ids of the events now reflected (applied now or before): their stream entries can be acknowledged. */
  done: string[];
  /** Set when the events given skip sequences: the first one missing. The rest wait for it. */
  missingSequence: number | null;
}

interface Summary {
  lastSequence: number;
  limitCents: bigint | null;
  availableCents: bigint | null;
  utilisationBps: number | null;
  lastIncreaseAt: Date | null;
}

/**
 * Applies one user's events after those already applied, in sequence order, in one transaction
 * with the user's row locked (consumers side by side apply a user's events one at a time).
 * Events at or below the user's sequence are duplicates: done, nothing changes.
 */
export async function applyUserEvents(userId: string, events: CreditEvent[]): Promise<AppliedEvents> {
  const sorted = [...events].sort((a, b) => a.sequence - b.sequence);
  return prisma.$transaction(async (tx) => {
    await tx.$executeRaw`INSERT INTO insights_users (user_id) VALUES (${userId}) ON CONFLICT (user_id) DO NOTHING`;
    const [state] = await tx.$queryRaw<Summary[]>`
      SELECT last_sequence AS "lastSequence", limit_cents AS "limitCents", available_cents AS "availableCents",
             utilisation_bps AS "utilisationBps", last_increase_at AS "lastIncreaseAt"
        FROM insights_users WHERE user_id = ${userId} FOR UPDATE`;
    const summary = state!;
    const start = summary.lastSequence;
    const done: string[] = [];
    const history: CreditHistoryEntry[] = [];
    let missingSequence: number | null = null;
    /** A user.erased applied: the history before it goes, and the summary is blanked. */
    let erasedSequence: number | null = null;
    for (const event of sorted) {
      if (event.sequence <= summary.lastSequence) {
        done.push(event.id);
        continue;
      }
      if (event.sequence > summary.lastSequence + 1) {
        missingSequence = summary.lastSequence + 1;
        break;
      }
      if (event.type === CREDIT_LIMIT_CHANGED) history.push(record(event, summary));
      if (event.type === USER_ERASED) {
        history.length = 0;
        Object.assign(summary, { limitCents: null, availableCents: null, utilisationBps: null, lastIncreaseAt: null });
        erasedSequence = event.sequence;
      }
      // Other types (offer expired, types added later) only move the sequence on.
      summary.lastSequence = event.sequence;
      done.push(event.id);
    }
    if (summary.lastSequence === start) return { done, missingSequence };
    if (erasedSequence !== null) await tx.$executeRaw`DELETE FROM insights_credit_history WHERE user_id = ${userId} AND sequence < ${erasedSequence}`;
    await tx.creditHistoryEntry.createMany({ data: history, skipDuplicates: true });
    await tx.creditInsight.update({ where: { userId }, data: { ...summary, updatedAt: new Date() } });
    return { done, missingSequence };
  });
}

/** The history row of a limit change; updates the summary in place. */
function record(event: Extract<CreditEvent, { type: typeof CREDIT_LIMIT_CHANGED }>, summary: Summary): CreditHistoryEntry {
  const { data } = event;
  const at = new Date(event.occurredAt);
  const previous = data.previousLimitCents === null ? null : BigInt(data.previousLimitCents);
  const limit = BigInt(data.newLimitCents);
  if (limit > (previous ?? 0n)) summary.lastIncreaseAt = at;
  summary.limitCents = limit;
  summary.availableCents = BigInt(data.availableCents);
  summary.utilisationBps = limit > 0n ? Number((BigInt(data.usedCents) * 10_000n) / limit) : null;
  return {
    id: event.id,
    userId: event.userId,
    sequence: event.sequence,
    at,
    reason: data.reason,
    currency: data.currency,
    previousLimitCents: previous,
    newLimitCents: limit,
    availableCents: BigInt(data.availableCents),
    deploymentId: data.deploymentId,
  };
}
