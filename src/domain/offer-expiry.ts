// Offers past their expiry: expired once each, with their OFFER_EXPIRED notification and their
// credit.offer.expired outbox event, in set-based batches of small transactions, so that a
// campaign of a million offers expiring at one instant neither holds locks for long nor keeps
// its notifications in memory: each batch's notifications go to the caller once it commits.
// Several sweeps at once share the work: each locks the due offers no other holds (SKIP LOCKED).
import { randomUUID } from 'node:crypto';
import { hotTransaction, Prisma, type HotStatement } from '../platform/db.ts';
import { dedupeKeySql } from './notifications.ts';
import { CREDIT_OFFER_EXPIRED, EVENT_VERSION, storedEnvelope } from './downstream-events.ts';
import { countOffersExpired } from './campaign-metrics.ts';
import { notificationText, offerLink } from './notification-content.ts';
import { newRowId } from './ids.ts';

export interface OfferExpirySettings {
  /** Offers per transaction: each batch holds its offers' and users' row locks until it commits. */
  batchSize: number;
  /** A pause between batches, leaving the database to the deployments meanwhile. */
  pauseMs: number;
}

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
  settings: OfferExpirySettings,
  now = new Date(),
): Promise<number> {
  let total = 0;
  for (;;) {
    const batch = await hotTransaction('offer expiry batch', (query) => expireBatch(query, settings.batchSize, now));
    countOffersExpired(batch.expired, batch.oldestDueAt);
    total += batch.expired;
    if (batch.expired > 0) await onCommitted(batch);
    if (batch.expired < settings.batchSize) return total;
    // Between batches the process's other work goes first (a deployment job, an API request):
    // at least a turn of the event loop, or the configured pause.
    await new Promise((resolve) => (settings.pauseMs > 0 ? setTimeout(resolve, settings.pauseMs) : setImmediate(resolve)));
  }
}

async function expireBatch(query: HotStatement, size: number, now: Date): Promise<ExpiredBatch> {
  // A batch's statements are planned for any batch, not for this one's values: planned with them
  // (a session's first five runs of a prepared statement), 500 offers and users looked like more
  // than the primary keys were worth, and the plans read every PENDING offer and every user into
  // hash tables (193, 89, 71 ms for the first batches on a book of 22,000 users and 13,000 PENDING
  // offers, against 46 ms once planned generically: lookups by primary key, at any book's size).
  await query(Prisma.sql`SET LOCAL plan_cache_mode = force_generic_plan`);
  // A Date goes as its UTC wall time (as Prisma sends it), which is how the timestamp columns hold it.
  const at = Prisma.sql`${now}::timestamp`;
  // The due offers no concurrent sweep (or accept) holds, and their users with their language and
  // event sequence, all locked until commit (no other writer can take a number of these users'
  // meanwhile, so the batch's numbers are given from what is read here). Users are locked in id
  // order (materialized: sorted, then locked): two sweeps with offers of the same users wait for
  // each other, never deadlock.
  const offers = await query<DueOffer & { locale: string | null; eventSequence: number }>(Prisma.sql`
    WITH due AS MATERIALIZED (
      SELECT id, expires_at, user_id, limit_cents, currency, interest_rate_bps FROM credit_offers
       WHERE status = 'PENDING' AND expires_at <= ${at}
       ORDER BY expires_at LIMIT ${size} FOR UPDATE SKIP LOCKED),
    owners AS MATERIALIZED (
      SELECT id, locale, last_event_sequence FROM users WHERE id IN (SELECT user_id FROM due) ORDER BY id FOR UPDATE)
    SELECT due.id, due.expires_at AS "expiresAt", due.user_id AS "userId", due.limit_cents AS "limitCents", due.currency,
           due.interest_rate_bps AS "interestRateBps", owners.locale, owners.last_event_sequence AS "eventSequence"
      FROM due JOIN owners ON owners.id = due.user_id
     ORDER BY due.expires_at`);
  if (offers.length === 0) return { expired: 0, oldestDueAt: null, notifications: [] };
  const correlationId = `offer-expiry-${randomUUID()}`;
  const events = numberEvents(offers);
  const rows = await query<{ expired: number | null; users: number | null; id: string | null; createdAt: Date | null }>(expireStatement(events, correlationId, now));
  const counts = rows.find((row) => row.id === null);
  // Every offer read above is locked and PENDING, every user locked at the sequence read: a
  // statement that expired fewer, or raised fewer users, would leave a gap in a user's events.
  if (counts?.expired !== offers.length || counts?.users !== events.users.size) {
    throw new Error(
      `offer expiry: ${offers.length} offers of ${events.users.size} users locked, ${counts?.expired} expired and ${counts?.users} users' sequences raised`,
    );
  }
  return {
    expired: offers.length,
    oldestDueAt: offers[0]!.expiresAt,
    notifications: rows.flatMap(({ id, createdAt }) => (id === null || createdAt === null ? [] : [{ notificationId: id, correlationId, createdAt }])),
  };
}

interface NumberedOffer extends DueOffer {
  locale: string | null;
  /** Its credit.offer.expired event's number in its user's sequence. */
  sequence: number;
}

interface NumberedEvents {
  offers: NumberedOffer[];
  /** Each user's sequence as read (`before`) and after the batch's events (`last`). */
  users: Map<string, { before: number; last: number }>;
}

/** Each offer's event numbered after its user's last (1..n per user, in the batch's order, no gaps). */
function numberEvents(offers: readonly (DueOffer & { locale: string | null; eventSequence: number })[]): NumberedEvents {
  const users = new Map<string, { before: number; last: number }>();
  const numbered = offers.map((o) => {
    const user = users.get(o.userId) ?? { before: o.eventSequence, last: o.eventSequence };
    user.last += 1;
    users.set(o.userId, user);
    return { ...o, sequence: user.last };
  });
  return { offers: numbered, users };
}

/**
 * One statement: the offers EXPIRED, each user's event sequence raised to its batch's last
 * number, one outbox event per offer (the numbers given by `numberEvents`), and one notification per
 * offer in its user's language (none when the offer has one already). Returns a row per
 * notification created, and one without an id: how many offers were expired and how many users'
 * sequences were raised.
 *
 * The numbers are given by the caller rather than joined from the users' update in the statement:
 * the planner estimates the `unnest` input at 10 rows and a join of the expired offers to the
 * updated users at 1 by 1, and on a book where few offers are PENDING it chose a nested loop that
 * read the users' rows once per offer (500 x 500 per batch: 27 of the statement's 70 ms).
 */
function expireStatement({ offers, users }: NumberedEvents, correlationId: string, now: Date): Prisma.Sql {
  const texts = offers.map((o) => notificationText('OFFER_EXPIRED', { cents: o.limitCents, currency: o.currency }, o.locale));
  const column = <T>(pick: (offer: NumberedOffer, i: number) => T) => offers.map(pick);
  return Prisma.sql`
    WITH input AS (
      SELECT * FROM unnest(${column((o) => o.id)}::uuid[], ${column((_, i) => texts[i]!.title)}::text[],
                           ${column((_, i) => texts[i]!.body)}::text[], ${column((o) => offerLink(o.id))}::text[],
                           ${column(() => newRowId())}::uuid[], ${column((o) => o.sequence)}::int[])
             AS i(offer_id, title, body, deep_link, outbox_id, sequence)),
    expired AS (
      UPDATE credit_offers o SET status = 'EXPIRED', expired_at = ${now}::timestamp
        FROM input i WHERE o.id = i.offer_id AND o.status = 'PENDING'
      RETURNING o.id, o.user_id, o.limit_cents, o.currency, o.interest_rate_bps, i.title, i.body, i.deep_link, i.outbox_id, i.sequence),
    event_sequence AS (
      UPDATE users u SET last_event_sequence = r.last
        FROM unnest(${[...users.keys()]}::text[], ${[...users.values()].map((r) => r.before)}::int[],
                    ${[...users.values()].map((r) => r.last)}::int[]) AS r(user_id, before, last)
       WHERE u.id = r.user_id AND u.last_event_sequence = r.before
      RETURNING u.id),
    event_outbox AS (
      INSERT INTO outbox_events (id, user_id, sequence, type, occurred_at, payload)
      SELECT n.outbox_id, n.user_id, n.sequence, ${CREDIT_OFFER_EXPIRED}, ${now},
             ${storedEnvelope(Prisma.sql`${EVENT_VERSION}::int`, Prisma.sql`${correlationId}::text`,
                              Prisma.sql`jsonb_build_object('offerId', n.id::text, 'limitCents', n.limit_cents::text,
                                                            'currency', n.currency::text, 'interestRateBps', n.interest_rate_bps)`)}
        FROM expired n),
    notified AS (
      INSERT INTO notifications (id, user_id, kind, title, body, deep_link, dedupe_key, offer_id, correlation_id)
      SELECT uuid_v7(), e.user_id, 'OFFER_EXPIRED', e.title, e.body, e.deep_link, ${dedupeKeySql(Prisma.sql`'OFFER_EXPIRED:' || e.id`)}, e.id, ${correlationId}
        FROM expired e
      ON CONFLICT (dedupe_key) DO NOTHING
      RETURNING id, created_at)
    SELECT NULL::int AS expired, NULL::int AS users, id::text AS id, created_at AS "createdAt" FROM notified
    UNION ALL
    SELECT (SELECT count(*)::int FROM expired), (SELECT count(*)::int FROM event_sequence), NULL, NULL`;
}
