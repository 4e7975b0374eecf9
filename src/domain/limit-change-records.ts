// The writes every path of a limit change shares, in the caller's transaction: its audit trail
// (append-only: who asked, why, when), its downstream events, its history row, and the
// LIMIT_CHANGE_CANCELLED notice. Locks: the caller holds the user's profile (or nothing of the
// user's yet); the event's sequence takes the user's row lock last, as every writer of events does.
import { Prisma, type LimitChange, type Notification, type Tx } from '../platform/db.ts';
import { CREDIT_LIMIT_CHANGED, LIMIT_CHANGE_CANCELLED, LIMIT_CHANGE_SCHEDULED, outboxWrite } from './downstream-events.ts';
import { createNotifications } from './notifications.ts';
import { newRowId } from './ids.ts';

/** Who asked for a change made by the service itself (a temporary increase's end). */
export const SERVICE_ACTOR = 'service';

export type AuditType = 'SCHEDULED' | 'APPLIED' | 'CANCELLED' | 'NOTICE_REMINDED';

/** Appends an event to the change's audit trail. */
export async function audit(
  tx: Tx,
  changeId: string,
  type: AuditType,
  actor: string,
  correlationId: string,
  detail: Record<string, unknown> | null,
  now: Date,
): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO limit_change_events (change_id, type, at, actor, correlation_id, detail)
    VALUES (${changeId}::uuid, ${type}, ${now}, ${actor}, ${correlationId}, ${detail === null ? null : JSON.stringify(detail)}::jsonb)`;
}

const iso = (date: Date) => date.toISOString();

/** credit.limit.change.scheduled. */
export async function publishScheduled(tx: Tx, change: LimitChange, correlationId: string, now: Date): Promise<void> {
  await tx.$queryRaw`WITH ${outboxWrite({
    type: LIMIT_CHANGE_SCHEDULED,
    userId: change.userId,
    correlationId,
    occurredAt: now,
    data: Prisma.sql`jsonb_build_object('changeId', ${change.id}::text, 'changeType', ${change.type}::text,
      'decreaseReason', ${change.decreaseReason}::text, 'currency', ${change.currency}::text,
      'newLimitCents', ${change.newLimitCents.toString()}::text, 'effectiveAt', ${iso(change.effectiveAt)}::text)`,
  })} SELECT sequence FROM event_outbox`;
}

/**
 * A scheduled change that will not happen: CANCELLED, in its trail and downstream; a decrease's
 * user is told (LIMIT_CHANGE_CANCELLED), returned for delivery. The caller holds the change's row.
 */
export async function recordCancelled(
  tx: Tx,
  change: LimitChange,
  because: 'REQUESTED' | 'SUPERSEDED',
  actor: string,
  correlationId: string,
  now: Date,
  why: string,
): Promise<Notification | null> {
  await tx.$executeRaw`UPDATE limit_changes SET status = 'CANCELLED', cancelled_at = ${now} WHERE id = ${change.id}::uuid`;
  await audit(tx, change.id, 'CANCELLED', actor, correlationId, { because, why }, now);
  await tx.$queryRaw`WITH ${outboxWrite({
    type: LIMIT_CHANGE_CANCELLED,
    userId: change.userId,
    correlationId,
    occurredAt: now,
    data: Prisma.sql`jsonb_build_object('changeId', ${change.id}::text, 'changeType', ${change.type}::text, 'cancelledBecause', ${because}::text)`,
  })} SELECT sequence FROM event_outbox`;
  if (change.type !== 'DECREASE') return null;
  const [notice] = await createNotifications(tx, [
    {
      userId: change.userId,
      kind: 'LIMIT_CHANGE_CANCELLED',
      subject: { limitChangeId: change.id },
      amount: { cents: change.newLimitCents, currency: change.currency },
      correlationId,
      locale: await localeOf(tx, change.userId),
    },
  ]);
  return notice ?? null;
}

export async function localeOf(tx: Tx, userId: string): Promise<string | null> {
  const [user] = await tx.$queryRaw<{ locale: string | null }[]>`SELECT locale FROM users WHERE id = ${userId}`;
  return user?.locale ?? null;
}

/** What an applied change did to the profile, for its event and history row. */
export interface AppliedLimit {
  change: LimitChange;
  previousLimitCents: bigint;
  newLimitCents: bigint;
  availableCents: bigint;
  usedCents: bigint;
  interestRateBps: number;
  /** The temporary increase still active after it (never, for now: a decrease or an end clears it). */
  temporaryUntil: Date | null;
}

/** One credit.limit.changed (version 2) and the history row of an applied change, both named by the change's id. */
export async function recordLimitChanged(tx: Tx, applied: AppliedLimit, correlationId: string, now: Date): Promise<void> {
  const { change } = applied;
  const reason = change.type === 'DECREASE' ? 'LIMIT_DECREASE' : 'TEMPORARY_LIMIT_ENDED';
  await tx.$executeRaw`
    INSERT INTO credit_line_changes (id, user_id, at, reason, change_type, decrease_reason, currency, previous_limit_cents, new_limit_cents,
                                     available_cents, limit_change_id)
    VALUES (${change.id}::uuid, ${change.userId}, ${now}, ${reason}::credit_limit_change_reason, ${change.type}::limit_change_type,
            ${change.decreaseReason}::limit_decrease_reason, ${change.currency}, ${applied.previousLimitCents}, ${applied.newLimitCents},
            ${applied.availableCents}, ${change.id}::uuid)`;
  await tx.$queryRaw`WITH ${outboxWrite({
    type: CREDIT_LIMIT_CHANGED,
    userId: change.userId,
    correlationId,
    occurredAt: now,
    id: newRowId(),
    data: Prisma.sql`jsonb_build_object(
      'reason', ${reason}::text, 'currency', ${change.currency}::text,
      'previousLimitCents', ${applied.previousLimitCents.toString()}::text, 'newLimitCents', ${applied.newLimitCents.toString()}::text,
      'availableCents', ${applied.availableCents.toString()}::text, 'usedCents', ${applied.usedCents.toString()}::text,
      'interestRateBps', ${applied.interestRateBps}::int, 'offerId', ${change.offerId}::text, 'deploymentId', NULL::text,
      'changeType', ${change.type}::text, 'historyId', ${change.id}::text, 'effectiveAt', ${iso(now)}::text,
      'decreaseReason', ${change.decreaseReason}::text, 'limitChangeId', ${change.id}::text,
      'temporaryUntil', ${applied.temporaryUntil ? iso(applied.temporaryUntil) : null}::text)`,
  })} SELECT sequence FROM event_outbox`;
}

/** The LimitChange columns of a limit_changes row, for raw statements. */
export const LIMIT_CHANGE_COLUMNS = Prisma.sql`
  id::text AS id, user_id AS "userId", type::text AS type, status::text AS status, currency, new_limit_cents AS "newLimitCents",
  previous_limit_cents AS "previousLimitCents", available_cents AS "availableCents", decrease_reason::text AS "decreaseReason",
  decision_sequence AS "decisionSequence", effective_at AS "effectiveAt", notice_ms AS "noticeMs",
  notice_notification_id::text AS "noticeNotificationId", notice_delivered_at AS "noticeDeliveredAt", notice_proof AS "noticeProof",
  offer_id::text AS "offerId", requested_by AS "requestedBy", correlation_id AS "correlationId", created_at AS "createdAt",
  applied_at AS "appliedAt", cancelled_at AS "cancelledAt"`;
