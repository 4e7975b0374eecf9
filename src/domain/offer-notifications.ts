// The notifications about offers that a user has not answered yet: the one OFFER_EXPIRING
// reminder of an offer still PENDING shortly before its expiry. (OFFER_RECEIVED is written by the
// statement that issues the offers: offer-batches.ts.)
import { randomUUID } from 'node:crypto';
import { prisma, Prisma, type Notification } from '../platform/db.ts';
import { createNotifications, dedupeKeySql } from './notifications.ts';

/** An offer PENDING close to its expiry, as the reminder query reads it. */
interface OfferDueReminder {
  id: string;
  userId: string;
  limitCents: bigint;
  currency: string;
}

const BATCH = 500;

/**
 * One OFFER_EXPIRING per offer still PENDING whose expiry is within `beforeMs` (and not past),
 * for offers issued at least `beforeMs` before their expiry (a short-lived offer gets none: its
 * OFFER_RECEIVED said enough). The unique dedupe key makes it once, whatever runs concurrently.
 * `onCommitted` gets each batch's reminders after its commit. Returns how many it created.
 */
export async function remindExpiringOffers(
  onCommitted: (created: Notification[]) => Promise<void>,
  beforeMs: number,
  now = new Date(),
  batch = BATCH,
): Promise<number> {
  const horizon = new Date(now.getTime() + beforeMs);
  let total = 0;
  for (;;) {
    const due = await prisma.$queryRaw<(OfferDueReminder & { locale: string | null })[]>`
      SELECT o.id::text AS id, o.user_id AS "userId", o.limit_cents AS "limitCents", o.currency, u.locale
        FROM credit_offers o JOIN users u ON u.id = o.user_id
       WHERE o.status = 'PENDING' AND o.expires_at > ${now}::timestamp AND o.expires_at <= ${horizon}::timestamp
         AND o.expires_at - o.created_at >= ${`${beforeMs} milliseconds`}::interval
         AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.dedupe_key = ${dedupeKeySql(Prisma.sql`'OFFER_EXPIRING:' || o.id::text`)})
       ORDER BY o.expires_at LIMIT ${batch}`;
    if (due.length === 0) return total;
    const correlationId = `offer-reminder-${randomUUID()}`;
    const made = await prisma.$transaction((tx) =>
      createNotifications(
        tx,
        due.map((offer) => ({
          userId: offer.userId,
          kind: 'OFFER_EXPIRING' as const,
          subject: { offerId: offer.id },
          amount: { cents: offer.limitCents, currency: offer.currency },
          correlationId,
          locale: offer.locale,
        })),
      ),
    );
    total += made.length;
    // Each committed batch is handed over before the next is read: one batch in memory at most.
    if (made.length > 0) await onCommitted(made);
    if (due.length < batch || made.length === 0) return total;
  }
}
