// Offers past their expiry: expired once each, with their OFFER_EXPIRED notification and their
// credit.offer.expired outbox event, in set-based batches of small transactions, so that a
// campaign of a million offers expiring at one instant neither holds locks for long nor keeps
// its notifications in memory: each batch's notifications go to the caller once it commits.
// Several sweeps at once share the work: each locks the due offers no other holds (SKIP LOCKED).
import { randomUUID } from 'node:crypto';
import { prisma, Prisma, type Tx } from '../platform/db.ts';
import { CREDIT_OFFER_EXPIRED, EVENT_VERSION } from './downstream-events.ts';
import { countOffersExpired } from './campaign-metrics.ts';
import { notificationText, offerLink } from './notification-content.ts';

export interface OfferExpirySettings {
  /** Offers per transaction: each batch holds its offers' and users' row locks until it commits. */
  batchSize: number;
  /** A pause between batches, leaving the database to the deployments meanwhile. */
  pauseMs: number;
}

export const DEFAULT_OFFER_EXPIRY: OfferExpirySettings = { batchSize: 500, pauseMs: 200 };

/** The notifications one committed batch created, to be handed to delivery. */
export interface ExpiredBatch {
  expired: number;
  /** When the oldest offer of the batch was due (null for an empty batch): how far behind the sweep is. */
  oldestDueAt: Date | null;
  /** The batch's notifications: one statement made them, so they share its correlation id and time. */
  notifications: { notificationId: string; correlationId: string; createdAt: Date }[];
}

interface DueOffer {
  id: string;
  expiresAt: Date;
  userId: string;
  limitCents: bigint;
  currency: string;
  interestRateBps: number;
}

/**
 * Expires every offer due at `now`, batch after batch, until none is left that no other sweep
 * holds. `onCommitted` gets each batch's notifications after its commit, and is awaited before
 * the next batch (what is in memory is one batch at most). Returns how many offers it expired.
 */
export async function expireDueOffers(
  onCommitted: (batch: ExpiredBatch) => Promise<void>,
  settings: OfferExpirySettings = DEFAULT_OFFER_EXPIRY,
  now = new Date(),
): Promise<number> {
  let total = 0;
  for (;;) {
    const batch = await prisma.$transaction((tx) => expireBatch(tx, settings.batchSize, now));
    countOffersExpired(batch.expired, batch.oldestDueAt);
    total += batch.expired;
    if (batch.expired > 0) await onCommitted(batch);
    if (batch.expired < settings.batchSize) return total;
    // Between batches the process's other work goes first (a deployment job, an API request):
    // at least a turn of the event loop, or the configured pause.
    await new Promise((resolve) => (settings.pauseMs > 0 ? setTimeout(resolve, settings.pauseMs) : setImmediate(resolve)));
  }
}

async function expireBatch(tx: Tx, size: number, now: Date): Promise<ExpiredBatch> {
  // Prisma sends a Date as the UTC wall time, which is how its timestamp columns hold it.
  const at = Prisma.sql`${now}::timestamp`;
  // The due offers no concurrent sweep (or accept) holds, and their users (each user's event
  // sequence is taken below) with their language, all locked until commit. Users are locked in
  // id order (materialized: sorted, then locked): two sweeps with offers of the same users wait
  // for each other, never deadlock.
  const offers = await tx.$queryRaw<(DueOffer & { locale: string | null })[]>`
    WITH due AS MATERIALIZED (
      SELECT id, expires_at, user_id, limit_cents, currency, interest_rate_bps FROM credit_offers
       WHERE status = 'PENDING' AND expires_at <= ${at}
       ORDER BY expires_at LIMIT ${size} FOR UPDATE SKIP LOCKED),
    owners AS MATERIALIZED (
      SELECT id, locale FROM users WHERE id IN (SELECT user_id FROM due) ORDER BY id FOR UPDATE)
    SELECT due.id, due.expires_at AS "expiresAt", due.user_id AS "userId", due.limit_cents AS "limitCents", due.currency,
           due.interest_rate_bps AS "interestRateBps", owners.locale
      FROM due JOIN owners ON owners.id = due.user_id
     ORDER BY due.expires_at`;
  if (offers.length === 0) return { expired: 0, oldestDueAt: null, notifications: [] };
  const localeOf = new Map(offers.map((o) => [o.userId, o.locale]));
  const correlationId = `offer-expiry-${randomUUID()}`;
  const notified = await tx.$queryRaw<{ id: string; createdAt: Date }[]>`${expireStatement(offers, localeOf, correlationId, now)}`;
  return {
    expired: offers.length,
    oldestDueAt: offers[0]!.expiresAt,
    notifications: notified.map(({ id, createdAt }) => ({ notificationId: id, correlationId, createdAt })),
  };
}

/**
 * One statement: the offers EXPIRED, each user's event sequence raised by its count of offers,
 * one outbox event per offer (numbered 1..n within the user's new range, no gaps), and one
 * notification per offer in its user's language (none when the offer has one already). Returns
 * the ids of the notifications created.
 */
function expireStatement(offers: DueOffer[], localeOf: Map<string, string | null>, correlationId: string, now: Date): Prisma.Sql {
  const texts = offers.map((o) => notificationText('OFFER_EXPIRED', { cents: o.limitCents, currency: o.currency }, localeOf.get(o.userId) ?? null));
  const column = <T>(pick: (offer: DueOffer, i: number) => T) => offers.map(pick);
  const occurredAt = now.toISOString();
  return Prisma.sql`
    WITH input AS (
      SELECT * FROM unnest(${column((o) => o.id)}::uuid[], ${column((_, i) => texts[i]!.title)}::text[],
                           ${column((_, i) => texts[i]!.body)}::text[], ${column((o) => offerLink(o.id))}::text[],
                           ${column(() => randomUUID())}::uuid[])
             AS i(offer_id, title, body, deep_link, outbox_id)),
    expired AS (
      UPDATE credit_offers o SET status = 'EXPIRED', expired_at = ${now}::timestamp
        FROM input i WHERE o.id = i.offer_id AND o.status = 'PENDING'
      RETURNING o.id, o.user_id, o.limit_cents, o.currency, o.interest_rate_bps, i.title, i.body, i.deep_link, i.outbox_id),
    per_user AS (SELECT user_id, count(*)::int AS n FROM expired GROUP BY user_id),
    event_sequence AS (
      UPDATE users u SET last_event_sequence = u.last_event_sequence + p.n
        FROM per_user p WHERE u.id = p.user_id
      RETURNING u.id AS user_id, u.last_event_sequence - p.n AS before),
    numbered AS (
      SELECT e.*, s.before + row_number() OVER (PARTITION BY e.user_id ORDER BY e.id) AS sequence
        FROM expired e JOIN event_sequence s ON s.user_id = e.user_id),
    event_outbox AS (
      INSERT INTO outbox_events (id, user_id, sequence, type, occurred_at, payload)
      SELECT n.outbox_id, n.user_id, n.sequence, ${CREDIT_OFFER_EXPIRED}, ${now},
             jsonb_build_object('id', n.outbox_id::text, 'type', ${CREDIT_OFFER_EXPIRED}::text, 'version', ${EVENT_VERSION}::int,
                                'occurredAt', ${occurredAt}::text, 'userId', n.user_id, 'sequence', n.sequence,
                                'correlationId', ${correlationId}::text,
                                'data', jsonb_build_object('offerId', n.id::text, 'limitCents', n.limit_cents::text,
                                                           'currency', n.currency::text, 'interestRateBps', n.interest_rate_bps))
        FROM numbered n),
    notified AS (
      INSERT INTO notifications (id, user_id, kind, title, body, deep_link, dedupe_key, offer_id, correlation_id)
      SELECT gen_random_uuid(), e.user_id, 'OFFER_EXPIRED', e.title, e.body, e.deep_link, 'OFFER_EXPIRED:' || e.id, e.id, ${correlationId}
        FROM expired e
      ON CONFLICT (dedupe_key) DO NOTHING
      RETURNING id, created_at)
    SELECT id::text AS id, created_at AS "createdAt" FROM notified`;
}
