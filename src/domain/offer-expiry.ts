// Offers past their expiry: expired once each, with their OFFER_EXPIRED notification in the same
// transaction. Safe with several workers at once: the conditional update takes each offer's row
// lock, and a concurrent run waits for it and then no longer matches the offer.
import { randomUUID } from 'node:crypto';
import { prisma, Prisma, type Notification } from '../platform/db.ts';
import { CREDIT_OFFER_EXPIRED, outboxWrite } from './downstream-events.ts';
import { createNotification } from './notifications.ts';

const BATCH = 200;

interface DueOffer {
  id: string;
  userId: string;
  limitCents: bigint;
  currency: string;
  interestRateBps: number;
}

export interface ExpiredOffers {
  expired: number;
  /** The notifications created, committed: for the caller's after-commit step. */
  notifications: Notification[];
}

export async function expireDueOffers(now = new Date(), batch = BATCH): Promise<ExpiredOffers> {
  const result: ExpiredOffers = { expired: 0, notifications: [] };
  // Prisma sends a Date as the UTC wall time, which is how its timestamp columns hold it.
  const at = Prisma.sql`${now}::timestamp`;
  for (;;) {
    const correlationId = `offer-expiry-${randomUUID()}`;
    const { expired, created } = await prisma.$transaction(async (tx) => {
      // The outer condition is re-checked after waiting for a concurrent run's row lock, so an
      // offer it expired is not matched again; SKIP LOCKED lets concurrent runs take different
      // offers instead of waiting.
      const offers = await tx.$queryRaw<DueOffer[]>`
        UPDATE credit_offers SET status = 'EXPIRED', expired_at = ${at}
         WHERE id IN (SELECT id FROM credit_offers
                       WHERE status = 'PENDING' AND expires_at <= ${at}
                       ORDER BY expires_at LIMIT ${batch} FOR UPDATE SKIP LOCKED)
           AND status = 'PENDING' AND expires_at <= ${at}
        RETURNING id, user_id AS "userId", limit_cents AS "limitCents", currency, interest_rate_bps AS "interestRateBps"`;
      const created: ExpiredOffers['notifications'] = [];
      for (const offer of offers) {
        const notification = await createNotification(tx, {
          userId: offer.userId,
          kind: 'OFFER_EXPIRED',
          subject: { offerId: offer.id },
          amount: { cents: offer.limitCents, currency: offer.currency },
          correlationId,
        });
        if (notification) created.push(notification);
        await tx.$queryRaw`WITH ${offerExpiredEvent(offer, correlationId, now)} SELECT sequence FROM event_outbox`;
      }
      return { expired: offers.length, created };
    });
    result.expired += expired;
    result.notifications.push(...created);
    if (expired < batch) return result;
  }
}

/** The outbox CTEs of an offer's credit.offer.expired event (docs/events.md). */
function offerExpiredEvent(offer: DueOffer, correlationId: string, now: Date) {
  return outboxWrite({
    type: CREDIT_OFFER_EXPIRED,
    userId: offer.userId,
    correlationId,
    occurredAt: now,
    data: Prisma.sql`jsonb_build_object('offerId', ${offer.id}::text, 'limitCents', ${offer.limitCents.toString()}::text,
                                        'currency', ${offer.currency}::text, 'interestRateBps', ${offer.interestRateBps}::int)`,
  });
}
