// Scheduled limit changes coming due: a decrease once its time has come and its notice period has
// run from the notice's delivery; the end of a temporary increase at its time (with a reminder
// before). Found in Postgres by a periodic scan (src/jobs/limit-changes.ts), so neither a restart
// nor a Redis loss can lose one; each applies once, under its user's profile lock and its own row
// lock (concurrent scans skip what another holds).
//
// The latest decision wins: a change never undoes an acceptance made after it was scheduled. One
// whose sequence is below what the profile holds is cancelled (SUPERSEDED); one with a later
// acceptance still on its way waits for it (that apply cancels it; a failed one lets it go on).
import { randomUUID } from 'node:crypto';
import { prisma, Prisma, type LimitChange, type Notification, type Tx } from '../platform/db.ts';
import { audit, LIMIT_CHANGE_COLUMNS, localeOf, recordCancelled, recordLimitChanged, SERVICE_ACTOR } from './limit-change-records.ts';
import { createNotifications, dedupeKeySql } from './notifications.ts';

interface LockedLine {
  limitCents: bigint;
  usedCents: bigint;
  interestRateBps: number;
  appliedAcceptanceSequence: number;
  permanentLimitCents: bigint | null;
}

/** Why a due change did not apply in this pass. */
export type DueOutcome = 'applied' | 'cancelled' | 'waiting' | 'taken';

const PAGE = 100;

/**
 * Applies every change due at `now` that may apply; `onCommitted` gets each one's notifications
 * after its commit. Returns how many applied (or were cancelled as superseded).
 */
export async function applyDueLimitChanges(onCommitted: (notifications: Notification[]) => Promise<void>, now = new Date()): Promise<number> {
  let done = 0;
  let cursor: { at: Date; id: string } | null = null;
  for (;;) {
    const after: { at: Date; id: string } | null = cursor;
    const due: { id: string; userId: string; effectiveAt: Date }[] = await prisma.$queryRaw`
      SELECT id::text AS id, user_id AS "userId", effective_at AS "effectiveAt" FROM limit_changes
       WHERE status = 'SCHEDULED' AND effective_at <= ${now}::timestamp
         ${afterPosition(after)}
       ORDER BY effective_at, id LIMIT ${PAGE}`;
    for (const change of due) {
      const result = await prisma.$transaction((tx) => applyOne(tx, change.id, change.userId, now));
      if (result.outcome === 'applied' || result.outcome === 'cancelled') done += 1;
      if (result.notifications.length > 0) await onCommitted(result.notifications);
    }
    if (due.length < PAGE) return done;
    cursor = { at: due.at(-1)!.effectiveAt, id: due.at(-1)!.id };
  }
}

const afterPosition = (after: { at: Date; id: string } | null) =>
  after ? Prisma.sql`AND (effective_at, id) > (${after.at}::timestamp, ${after.id}::uuid)` : Prisma.empty;

async function applyOne(tx: Tx, id: string, userId: string, now: Date): Promise<{ outcome: DueOutcome; notifications: Notification[] }> {
  // The profile first, as a deployment's apply and a scheduling take it: one order, no deadlock.
  const [line] = await tx.$queryRaw<LockedLine[]>`
    SELECT limit_cents AS "limitCents", used_cents AS "usedCents", interest_rate_bps AS "interestRateBps",
           applied_acceptance_sequence AS "appliedAcceptanceSequence", permanent_limit_cents AS "permanentLimitCents"
      FROM credit_profiles WHERE user_id = ${userId} FOR UPDATE`;
  const [change] = await tx.$queryRaw<LimitChange[]>`
    SELECT ${LIMIT_CHANGE_COLUMNS} FROM limit_changes
     WHERE id = ${id}::uuid AND status = 'SCHEDULED' AND effective_at <= ${now}::timestamp FOR UPDATE SKIP LOCKED`;
  if (!change || !line) return { outcome: 'taken', notifications: [] };
  const correlationId = `limit-change-${randomUUID()}`;
  if (line.appliedAcceptanceSequence > change.decisionSequence) {
    const notice = await recordCancelled(tx, change, 'SUPERSEDED', SERVICE_ACTOR, correlationId, now, 'a later acceptance was applied');
    return { outcome: 'cancelled', notifications: notice ? [notice] : [] };
  }
  if (await laterAcceptanceUnderway(tx, userId, change.decisionSequence)) return { outcome: 'waiting', notifications: [] };
  const notice = change.type === 'DECREASE' ? await noticeDelivery(tx, change) : null;
  if (change.type === 'DECREASE' && (!notice || notice.deliveredAt.getTime() + Number(change.noticeMs) > now.getTime())) {
    return { outcome: 'waiting', notifications: [] };
  }
  const newLimit = change.type === 'TEMPORARY_END' ? (line.permanentLimitCents ?? change.newLimitCents) : change.newLimitCents;
  const available = newLimit > line.usedCents ? newLimit - line.usedCents : 0n;
  // The limit is now permanent: a temporary increase still running ends with it.
  await tx.$executeRaw`
    UPDATE credit_profiles SET limit_cents = ${newLimit}, available_cents = ${available}, version = version + 1,
           permanent_limit_cents = NULL, temporary_until = NULL,
           applied_acceptance_sequence = GREATEST(applied_acceptance_sequence, ${change.decisionSequence}),
           last_limit_change_at = ${now}, updated_at = ${now}
     WHERE user_id = ${userId}`;
  await tx.$executeRaw`
    UPDATE limit_changes SET status = 'APPLIED', applied_at = ${now}, previous_limit_cents = ${line.limitCents}, available_cents = ${available},
           new_limit_cents = ${newLimit}, notice_delivered_at = ${notice?.deliveredAt ?? null}, notice_proof = ${notice ? JSON.stringify(notice.proof) : null}::jsonb
     WHERE id = ${id}::uuid`;
  const notifications: Notification[] = [];
  const ends = await tx.$queryRaw<LimitChange[]>`
    SELECT ${LIMIT_CHANGE_COLUMNS} FROM limit_changes
     WHERE user_id = ${userId} AND status = 'SCHEDULED' AND type = 'TEMPORARY_END' AND id <> ${id}::uuid FOR UPDATE SKIP LOCKED`;
  for (const end of ends) await recordCancelled(tx, end, 'SUPERSEDED', SERVICE_ACTOR, correlationId, now, 'the limit was changed before the end');
  await audit(tx, id, 'APPLIED', SERVICE_ACTOR, correlationId, {
    previousLimitCents: line.limitCents.toString(),
    newLimitCents: newLimit.toString(),
    availableCents: available.toString(),
    overLimit: line.usedCents > newLimit,
    ...(notice ? { noticeDeliveredAt: notice.deliveredAt.toISOString(), noticeProof: notice.proof } : {}),
  }, now);
  await recordLimitChanged(
    tx,
    { change, previousLimitCents: line.limitCents, newLimitCents: newLimit, availableCents: available, usedCents: line.usedCents, interestRateBps: line.interestRateBps, temporaryUntil: null },
    correlationId,
    now,
  );
  const told = await createNotifications(tx, [
    {
      userId,
      kind: change.type === 'DECREASE' ? 'LIMIT_DECREASED' : 'TEMPORARY_LIMIT_ENDED',
      subject: { limitChangeId: id },
      amount: { cents: newLimit, currency: change.currency },
      correlationId,
      locale: await localeOf(tx, userId),
    },
  ]);
  notifications.push(...told);
  return { outcome: 'applied', notifications };
}

/** Whether an acceptance made after the change was decided is still on its way to the profile. */
async function laterAcceptanceUnderway(tx: Tx, userId: string, sequence: number): Promise<boolean> {
  const rows = await tx.$queryRaw<unknown[]>`
    SELECT 1 FROM credit_deployments
     WHERE user_id = ${userId} AND status IN ('QUEUED', 'PROCESSING', 'RETRYING') AND acceptance_sequence > ${sequence} LIMIT 1`;
  return rows.length > 0;
}

/**
 * When the decrease's notice reached the user, and the proof: its first delivery the provider or
 * the live app accepted (SENT), else the user's acknowledgement, else the first delivery attempt
 * made (a push SKIPPED for want of a device: the notice sits in the app's inbox from then on).
 * Null while no delivery step was taken yet.
 */
async function noticeDelivery(tx: Tx, change: LimitChange): Promise<{ deliveredAt: Date; proof: Record<string, unknown> } | null> {
  if (!change.noticeNotificationId) return { deliveredAt: change.createdAt, proof: { note: 'no notice recorded' } };
  const rows = await tx.$queryRaw<{ channel: string; status: string; at: Date; reasonCode: string | null; providerMessageId: string | null }[]>`
    SELECT channel::text AS channel, status::text AS status, at, reason_code::text AS "reasonCode", provider_message_id AS "providerMessageId"
      FROM notification_deliveries WHERE notification_id = ${change.noticeNotificationId}::uuid ORDER BY at, id`;
  const sent = rows.find((r) => r.status === 'SENT');
  const proofOf = (r: (typeof rows)[number]) => ({ notificationId: change.noticeNotificationId, ...r, at: r.at.toISOString() });
  if (sent) return { deliveredAt: sent.at, proof: proofOf(sent) };
  const [notification] = await tx.$queryRaw<{ acknowledgedAt: Date | null }[]>`
    SELECT acknowledged_at AS "acknowledgedAt" FROM notifications WHERE id = ${change.noticeNotificationId}::uuid`;
  if (notification?.acknowledgedAt) {
    return { deliveredAt: notification.acknowledgedAt, proof: { notificationId: change.noticeNotificationId, acknowledgedAt: notification.acknowledgedAt.toISOString() } };
  }
  const first = rows[0];
  return first ? { deliveredAt: first.at, proof: proofOf(first) } : null;
}

/**
 * One TEMPORARY_LIMIT_ENDING per temporary increase ending within `beforeMs` (for increases that
 * last longer than that), once (its dedupe key). Returns those created, for delivery.
 */
export async function remindTemporaryEnds(beforeMs: number, now = new Date()): Promise<Notification[]> {
  const horizon = new Date(now.getTime() + beforeMs);
  const due = await prisma.$queryRaw<(LimitChange & { locale: string | null })[]>`
    SELECT lc.id::text AS id, lc.user_id AS "userId", lc.currency, lc.new_limit_cents AS "newLimitCents", lc.effective_at AS "effectiveAt", u.locale
      FROM limit_changes lc JOIN users u ON u.id = lc.user_id
     WHERE lc.status = 'SCHEDULED' AND lc.type = 'TEMPORARY_END'
       AND lc.effective_at > ${now}::timestamp AND lc.effective_at <= ${horizon}::timestamp
       AND lc.effective_at - lc.created_at >= ${`${beforeMs} milliseconds`}::interval
       AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.dedupe_key = ${dedupeKeySql(Prisma.sql`'TEMPORARY_LIMIT_ENDING:' || lc.id::text`)})
     ORDER BY lc.effective_at LIMIT 500`;
  if (due.length === 0) return [];
  const correlationId = `temporary-limit-reminder-${randomUUID()}`;
  return prisma.$transaction((tx) =>
    createNotifications(
      tx,
      due.map((end) => ({
        userId: end.userId,
        kind: 'TEMPORARY_LIMIT_ENDING' as const,
        subject: { limitChangeId: end.id },
        amount: { cents: end.newLimitCents, currency: end.currency },
        correlationId,
        locale: end.locale,
        date: end.effectiveAt,
      })),
    ),
  );
}
