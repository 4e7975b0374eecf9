// Limit decreases the credit engine schedules, with the notice the law asks for (Resolução BCB
// 96/2021 art. 10: at least 30 days; at once when the customer's risk worsened or they asked,
// the customer told first), and their cancellation. The user is told in the transaction that
// schedules it (LIMIT_DECREASE_SCHEDULED, an ACCOUNT_NOTICES notification: every channel, never
// held by quiet hours). The change applies later (limit-change-apply.ts), found in Postgres.
//
// The latest decision wins: scheduling takes the user's next decision sequence (the acceptance
// sequence, shared with acceptances) and withdraws the user's PENDING offers issued before it.
import { prisma, Prisma, type LimitChange, type LimitDecreaseReason, type Notification, type Tx } from '../platform/db.ts';
import { hasControlCharacters, isUuid, NotFoundError, ValidationError } from './errors.ts';
import { audit, LIMIT_CHANGE_COLUMNS, publishScheduled, recordCancelled } from './limit-change-records.ts';
import { createNotifications } from './notifications.ts';
import { withdrawOffersWhere } from './offer-withdrawal.ts';
import { newRowId } from './ids.ts';

export interface LimitChangeSettings {
  /** The notice a decrease needs, counted from the notice's delivery (LIMIT_DECREASE_NOTICE_DAYS). */
  noticeMs: number;
}

const DAY_MS = 86_400_000;
export const DEFAULT_LIMIT_CHANGES: LimitChangeSettings = { noticeMs: 30 * DAY_MS };
/** How far ahead a decrease may be scheduled. */
const MAX_AHEAD_MS = 400 * DAY_MS;

/** Reasons that allow a decrease sooner than the notice period, even at once (the customer told first). */
export const IMMEDIATE_REASONS: readonly LimitDecreaseReason[] = ['RISK_DETERIORATION', 'CUSTOMER_REQUEST'];

export interface ScheduleDecreaseInput {
  userId: string;
  newLimitCents: number;
  reason: LimitDecreaseReason;
  effectiveAt?: Date | null;
}

/** Who asked and in which request: kept in the change's audit trail. */
export interface Requester {
  actor: string;
  correlationId: string;
}

export interface Scheduled {
  change: LimitChange;
  /** Created in its transaction, for their first delivery step. */
  notifications: Notification[];
}

/** An expected refusal found inside the transaction: rolls it back, then is returned. */
class Refused extends Error {
  constructor(readonly refusal: ValidationError | NotFoundError) {
    super(refusal.message);
  }
}

export async function scheduleLimitDecrease(
  input: ScheduleDecreaseInput,
  requester: Requester,
  settings: LimitChangeSettings = DEFAULT_LIMIT_CHANGES,
  now = new Date(),
): Promise<Scheduled | ValidationError | NotFoundError> {
  if (hasControlCharacters(input.userId) || input.userId.length === 0 || input.userId.length > 128) {
    return new NotFoundError('This user has no credit profile');
  }
  if (!Number.isSafeInteger(input.newLimitCents) || input.newLimitCents < 0) {
    return new ValidationError('newLimitCents must be a whole number of minor units, zero or more', 'input.newLimitCents');
  }
  const immediateAllowed = IMMEDIATE_REASONS.includes(input.reason);
  // An immediate reason may name any time up to now (the caller's clock a little behind ours): it means at once.
  const earliest = immediateAllowed ? -Infinity : now.getTime() + settings.noticeMs;
  const asked = input.effectiveAt?.getTime() ?? now.getTime() + settings.noticeMs;
  if (asked < earliest) {
    const days = Math.round((settings.noticeMs / DAY_MS) * 100) / 100;
    return new ValidationError(`a decrease for ${input.reason} needs ${days} days' notice: effectiveAt must be that far ahead, or left out`, 'input.effectiveAt');
  }
  if (asked > now.getTime() + MAX_AHEAD_MS) return new ValidationError('effectiveAt must be within 400 days', 'input.effectiveAt');
  const effectiveAt = new Date(Math.max(asked, now.getTime()));
  // The notice period counts from the notice's delivery: the change waits that long after it.
  const noticeMs = BigInt(effectiveAt.getTime() - now.getTime());
  try {
    return await prisma.$transaction((tx) => schedule(tx, input, requester, effectiveAt, noticeMs, now));
  } catch (error) {
    if (error instanceof Refused) return error.refusal;
    throw error;
  }
}

async function schedule(tx: Tx, input: ScheduleDecreaseInput, requester: Requester, effectiveAt: Date, noticeMs: bigint, now: Date): Promise<Scheduled> {
  // The profile first (as a deployment's apply locks it), then the user's decision sequence.
  const [profile] = await tx.$queryRaw<{ limitCents: bigint; currency: string }[]>`
    SELECT limit_cents AS "limitCents", currency FROM credit_profiles WHERE user_id = ${input.userId} FOR UPDATE`;
  if (!profile) throw new Refused(new NotFoundError('This user has no credit profile'));
  const newLimit = BigInt(input.newLimitCents);
  if (newLimit >= profile.limitCents) {
    throw new Refused(new ValidationError(`newLimitCents must be below the current limit (${profile.limitCents})`, 'input.newLimitCents'));
  }
  const [user] = await tx.$queryRaw<{ sequence: number; locale: string | null }[]>`
    UPDATE users SET last_acceptance_sequence = last_acceptance_sequence + 1 WHERE id = ${input.userId}
    RETURNING last_acceptance_sequence AS sequence, locale`;
  // The engine's latest decision: the offers it made before no longer stand.
  await withdrawOffersWhere(tx, Prisma.sql`o.user_id = ${input.userId} AND o.created_at <= ${now}`, now, 100_000);
  const notifications: Notification[] = [];
  // An earlier decrease still to come is replaced by this one (one held elsewhere is left to its holder).
  const replaced = await tx.$queryRaw<LimitChange[]>`
    SELECT ${LIMIT_CHANGE_COLUMNS} FROM limit_changes
     WHERE user_id = ${input.userId} AND status = 'SCHEDULED' AND type = 'DECREASE' FOR UPDATE SKIP LOCKED`;
  for (const old of replaced) {
    await recordCancelled(tx, old, 'SUPERSEDED', requester.actor, requester.correlationId, now, 'replaced by a later decrease');
  }
  const id = newRowId();
  const [notice] = await createNotifications(tx, [
    {
      userId: input.userId,
      kind: 'LIMIT_DECREASE_SCHEDULED',
      subject: { limitChangeId: id },
      amount: { cents: newLimit, currency: profile.currency },
      correlationId: requester.correlationId,
      locale: user!.locale,
      date: effectiveAt,
    },
  ]);
  notifications.push(notice!);
  const [change] = await tx.$queryRaw<LimitChange[]>`
    INSERT INTO limit_changes (id, user_id, type, status, currency, new_limit_cents, decrease_reason, decision_sequence, effective_at,
                               notice_ms, notice_notification_id, requested_by, correlation_id, created_at)
    VALUES (${id}::uuid, ${input.userId}, 'DECREASE', 'SCHEDULED', ${profile.currency}, ${newLimit}, ${input.reason}::limit_decrease_reason,
            ${user!.sequence}, ${effectiveAt}, ${noticeMs}, ${notice!.id}::uuid, ${requester.actor}, ${requester.correlationId}, ${now})
    RETURNING ${LIMIT_CHANGE_COLUMNS}`;
  await audit(tx, id, 'SCHEDULED', requester.actor, requester.correlationId, {
    reason: input.reason,
    previousLimitCents: profile.limitCents.toString(),
    newLimitCents: newLimit.toString(),
    effectiveAt: effectiveAt.toISOString(),
    noticeMs: noticeMs.toString(),
    noticeNotificationId: notice!.id,
  }, now);
  await publishScheduled(tx, change!, requester.correlationId, now);
  return { change: change!, notifications };
}

export interface Cancelled {
  change: LimitChange;
  notifications: Notification[];
}

/** Cancels a SCHEDULED decrease (role credit-engine); cancelling a cancelled one answers it again. */
export async function cancelLimitChange(id: string, requester: Requester, now = new Date()): Promise<Cancelled | NotFoundError | ValidationError> {
  if (!isUuid(id)) return new NotFoundError('Limit change not found');
  try {
    return await prisma.$transaction(async (tx) => {
      const [change] = await tx.$queryRaw<LimitChange[]>`SELECT ${LIMIT_CHANGE_COLUMNS} FROM limit_changes WHERE id = ${id}::uuid FOR UPDATE`;
      if (!change) throw new Refused(new NotFoundError('Limit change not found'));
      if (change.status === 'CANCELLED') return { change, notifications: [] };
      if (change.status === 'APPLIED') throw new Refused(new ValidationError('The change was applied already: it can no longer be cancelled', 'id'));
      if (change.type !== 'DECREASE') {
        throw new Refused(new ValidationError("A temporary increase's end cannot be cancelled: issue an offer for the limit to keep", 'id'));
      }
      const notice = await recordCancelled(tx, change, 'REQUESTED', requester.actor, requester.correlationId, now, 'cancelled by the credit engine');
      const [after] = await tx.$queryRaw<LimitChange[]>`SELECT ${LIMIT_CHANGE_COLUMNS} FROM limit_changes WHERE id = ${id}::uuid`;
      return { change: after!, notifications: notice ? [notice] : [] };
    });
  } catch (error) {
    if (error instanceof Refused) return error.refusal;
    throw error;
  }
}

/** A user's SCHEDULED changes, soonest first, a page: `take` after the change `afterId` (when given). */
export async function scheduledLimitChanges(userId: string, take: number, after: { at: Date; id: string } | null): Promise<LimitChange[]> {
  const from = after
    ? Prisma.sql`AND (effective_at, id) > (${after.at}::timestamp, ${after.id}::uuid)`
    : Prisma.empty;
  return prisma.$queryRaw<LimitChange[]>`
    SELECT ${LIMIT_CHANGE_COLUMNS} FROM limit_changes
     WHERE user_id = ${userId} AND status = 'SCHEDULED' ${from}
     ORDER BY effective_at, id LIMIT ${take}`;
}
