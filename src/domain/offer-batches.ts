// Offers issued, one (issueCreditOffer) or in batches (a campaign: each input validated on its
// own), with the same statements whatever their number: the users, then the offers and their
// OFFER_RECEIVED in one autocommit statement. Idempotent per externalRef.
import { randomUUID } from 'node:crypto';
import { hotQuery, Prisma, type CreditOffer, type Notification } from '../platform/db.ts';
import { countOffersIssued } from './campaign-metrics.ts';
import { ValidationError } from './errors.ts';
import { notificationRow } from './notifications.ts';
import { conflictingRef, DEFAULT_OFFER_CAPS, sameTerms, validateIssue, type IssueOfferInput, type OfferCaps } from './offers.ts';
import { newRowId } from './ids.ts';

/** The most offers one batch may carry: enough for a campaign, small enough for one request and one transaction. */
export const MAX_OFFERS_PER_BATCH = 1_000;

export type IssuedOrRefused = CreditOffer | ValidationError;

/** A batch's answers, and the OFFER_RECEIVED notifications its transaction committed (for what follows the commit). */
export interface BatchIssued {
  results: IssuedOrRefused[];
  received: Notification[];
}

/** An offer issued (or found by its externalRef), and the OFFER_RECEIVED its issue committed (none when found). */
export interface OfferIssued {
  offer: CreditOffer;
  /** For what follows the commit: their first delivery step. */
  received: Notification[];
}

/**
 * One offer. Idempotent on externalRef: the same key and terms give back the offer issued the
 * first time (a key already used with other terms is a ValidationError on `input.externalRef`).
 * Its OFFER_RECEIVED notification is created with it, and returned for the caller to hand over.
 * The statements of a batch of one, through pg: the Prisma transaction it was (six round trips)
 * cost the API more CPU than the accept.
 */
export async function issueCreditOffer(
  input: IssueOfferInput,
  caps: OfferCaps = DEFAULT_OFFER_CAPS,
  now = new Date(),
  correlationId = `offer-issued-${randomUUID()}`,
): Promise<OfferIssued | ValidationError> {
  const invalid = validateIssue(input, caps, now);
  if (invalid) return invalid;
  const ref = input.externalRef ?? null;
  const known = (existing: CreditOffer) => (sameTerms(existing, input) ? { offer: existing, received: [] } : conflictingRef());
  // An issue sent again (the common retry) is answered by one read.
  const earlier = ref === null ? undefined : (await offersByRef([ref])).get(ref);
  if (earlier) return known(earlier);
  const locales = await createUsers([input.userId]);
  const { written, notifications } = await insertOffers([input], locales, correlationId);
  const offer = written[0];
  if (offer) {
    countOffersIssued('single', 1);
    return { offer, received: notifications };
  }
  // A concurrent issue with the same externalRef won the race: answer as it did.
  const winner = (await offersByRef([ref!])).get(ref!);
  if (!winner) throw new Error(`offer of externalRef ${ref} neither written nor found`);
  return known(winner);
}

/**
 * One result per input, in input order: the offer (new, or the one its externalRef already
 * names with the same terms) or the ValidationError of that input, whose field is `inputs[i].x`.
 * An empty or oversized batch is refused as a whole (a ValidationError naming `inputs`).
 */
export async function issueCreditOffers(
  inputs: readonly IssueOfferInput[],
  caps: OfferCaps = DEFAULT_OFFER_CAPS,
  now = new Date(),
  correlationId = `offers-issued-${randomUUID()}`,
): Promise<BatchIssued | ValidationError> {
  if (inputs.length === 0 || inputs.length > MAX_OFFERS_PER_BATCH) {
    return new ValidationError(`inputs must hold 1 to ${MAX_OFFERS_PER_BATCH} offers, got ${inputs.length}`, 'inputs');
  }
  const results: (IssuedOrRefused | undefined)[] = inputs.map((input, i) => validateIssue(input, caps, now, `inputs[${i}]`) ?? undefined);
  // An externalRef given twice in one batch is one offer: the first occurrence is written, the
  // others are answered as a second request with that key would be.
  const firstOfRef = new Map<string, number>();
  const toWrite: number[] = [];
  inputs.forEach((input, i) => {
    if (results[i]) return;
    const ref = input.externalRef;
    if (ref == null) return void toWrite.push(i);
    if (!firstOfRef.has(ref)) {
      firstOfRef.set(ref, i);
      toWrite.push(i);
    }
  });
  let received: Notification[] = [];
  if (toWrite.length > 0) {
    const locales = await createUsers(toWrite.map((i) => inputs[i]!.userId));
    const { written, notifications } = await insertOffers(toWrite.map((i) => inputs[i]!), locales, correlationId);
    received = notifications;
    toWrite.forEach((i, k) => {
      if (written[k]) results[i] = written[k];
    });
    countOffersIssued('batch', written.filter(Boolean).length);
  }
  // What a ref already named (issued earlier, or by a concurrent batch that won the insert).
  const known = await offersByRef(inputs.flatMap((input, i) => (!results[i] && input.externalRef != null ? [input.externalRef] : [])));
  const answers = inputs.map((input, i) => {
    const done = results[i];
    if (done) return done;
    const existing = known.get(input.externalRef!);
    if (!existing) throw new Error(`offer of externalRef ${input.externalRef} neither written nor found`);
    return sameTerms(existing, input) ? existing : conflictingRef(`inputs[${i}]`);
  });
  return { results: answers, received };
}

/**
 * The users offers are issued to, created when new, and the languages of those who chose one. Its
 * own statement, committed before the offers': two batches sharing new users each insert them in
 * id order, so one waits for the other's commit (then finds the row) rather than deadlocking; no
 * user is ever inserted twice. A user created here has no language yet (the statement's read does
 * not see its own inserts, and needs not).
 */
async function createUsers(userIds: readonly string[]): Promise<Map<string, string>> {
  const ids = [...new Set(userIds)].sort();
  const rows = await hotQuery<{ id: string; locale: string }>('create users', Prisma.sql`
    WITH created AS (
      INSERT INTO users (id) SELECT id FROM unnest(${ids}::text[]) AS u(id) ORDER BY id
      ON CONFLICT (id) DO NOTHING)
    SELECT id, locale FROM users WHERE id = ANY(${ids}::text[]) AND locale IS NOT NULL`);
  return new Map(rows.map((r) => [r.id, r.locale]));
}

const OFFER_COLUMNS = Prisma.sql`
  id, user_id AS "userId", limit_cents AS "limitCents", interest_rate_bps AS "interestRateBps", currency,
  status::text AS status, expires_at AS "expiresAt", external_ref AS "externalRef", campaign_id AS "campaignId",
  created_at AS "createdAt", accepted_at AS "acceptedAt", declined_at AS "declinedAt", expired_at AS "expiredAt",
  temporary_until AS "temporaryUntil", withdrawn_at AS "withdrawnAt"`;

/**
 * Writes the offers and their OFFER_RECEIVED in one statement (the place where what is created
 * with each offer joins in): they commit together, and each user is told of each offer once.
 * Returns, per input, the offer written, or undefined when its externalRef was taken already,
 * and the notifications created. Ids and the notifications' words (in each user's language) are
 * chosen here, so each row returned is known to be its input's. Rows go in externalRef order:
 * concurrent batches sharing refs wait on each other in the same order and never deadlock. One
 * autocommit statement through pg: a transaction of two statements through Prisma took twice the
 * time of plain SQL writing the same rows (bench/README.md, a campaign).
 */
async function insertOffers(
  inputs: readonly IssueOfferInput[],
  locales: ReadonlyMap<string, string>,
  correlationId: string,
): Promise<{ written: (CreditOffer | undefined)[]; notifications: Notification[] }> {
  const ids = inputs.map(() => newRowId());
  const column = <T>(pick: (input: IssueOfferInput) => T) => inputs.map(pick);
  const received = inputs.map((o, i) =>
    notificationRow({
      userId: o.userId,
      kind: 'OFFER_RECEIVED',
      subject: { offerId: ids[i]! },
      amount: { cents: BigInt(o.limitCents), currency: o.currency ?? 'BRL' },
      correlationId,
      locale: locales.get(o.userId) ?? null,
    }),
  );
  const rows = await hotQuery<CreditOffer & { notificationId: string | null; notificationCreatedAt: Date | null }>('issue offers', Prisma.sql`
    WITH input AS (
      -- Timestamps travel as ISO text: the columns hold UTC wall time.
      SELECT * FROM unnest(${ids}::uuid[], ${column((o) => o.userId)}::text[], ${column((o) => BigInt(o.limitCents))}::bigint[],
                           ${column((o) => o.interestRateBps)}::int[], ${column((o) => o.currency ?? 'BRL')}::text[],
                           ${column((o) => o.expiresAt.toISOString())}::timestamptz[], ${column((o) => o.externalRef ?? null)}::text[],
                           ${column((o) => o.campaignId ?? null)}::text[], ${column((o) => o.temporaryUntil?.toISOString() ?? null)}::timestamptz[],
                           ${received.map((n) => n.title)}::text[], ${received.map((n) => n.body)}::text[], ${received.map((n) => n.deepLink)}::text[],
                           ${received.map((n) => n.dedupeKey)}::uuid[])
             AS i(id, user_id, limit_cents, rate, currency, expires_at, external_ref, campaign_id, temporary_until, title, body, deep_link, dedupe_key)),
    offers AS (
      INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, expires_at, external_ref, campaign_id, temporary_until)
      SELECT id, user_id, limit_cents, rate, currency, expires_at AT TIME ZONE 'UTC', external_ref, campaign_id, temporary_until AT TIME ZONE 'UTC'
        FROM input ORDER BY external_ref NULLS LAST
      ON CONFLICT (external_ref) DO NOTHING
      RETURNING *),
    received AS (
      INSERT INTO notifications (id, user_id, kind, title, body, deep_link, dedupe_key, offer_id, correlation_id)
      SELECT uuid_v7(), offers.user_id, 'OFFER_RECEIVED', input.title, input.body, input.deep_link, input.dedupe_key, offers.id, ${correlationId}
        FROM offers JOIN input ON input.id = offers.id
      ON CONFLICT (dedupe_key) DO NOTHING
      RETURNING id, offer_id, created_at)
    SELECT o.*, received.id::text AS "notificationId", received.created_at AS "notificationCreatedAt"
      FROM (SELECT ${OFFER_COLUMNS} FROM offers) o LEFT JOIN received ON received.offer_id = o.id`);
  const byId = new Map(rows.map(({ notificationId: _, notificationCreatedAt: __, ...offer }) => [offer.id, offer as CreditOffer]));
  const index = new Map<string, number>(ids.map((id, i) => [id, i]));
  const notifications = rows.flatMap((row): Notification[] => {
    if (!row.notificationId) return [];
    const n = received[index.get(row.id)!]!;
    return [
      {
        id: row.notificationId,
        userId: n.userId,
        kind: n.kind,
        status: 'PENDING',
        title: n.title,
        body: n.body,
        deepLink: n.deepLink,
        dedupeKey: n.dedupeKey,
        deploymentId: null,
        offerId: row.id,
        correlationId,
        createdAt: row.notificationCreatedAt!,
        pushDueAt: null,
        pushSettledAt: null,
        acknowledgedAt: null,
      },
    ];
  });
  return { written: ids.map((id) => byId.get(id)), notifications };
}

async function offersByRef(refs: readonly string[]): Promise<Map<string, CreditOffer>> {
  if (refs.length === 0) return new Map();
  const rows = await hotQuery<CreditOffer>('offers by ref', Prisma.sql`
    SELECT ${OFFER_COLUMNS} FROM credit_offers WHERE external_ref = ANY(${[...new Set(refs)]}::text[])`);
  return new Map(rows.map((row) => [row.externalRef!, row]));
}
