// Offers issued in batches (a campaign): each input validated on its own, the valid ones written
// with a few set-based statements whatever the batch's size, idempotent per externalRef exactly
// as one offer issued alone.
import { randomUUID } from 'node:crypto';
import { prisma, Prisma, type CreditOffer, type Notification } from '../platform/db.ts';
import { countOffersIssued } from './campaign-metrics.ts';
import { ValidationError } from './errors.ts';
import { notifyOffersReceived } from './offer-notifications.ts';
import { conflictingRef, DEFAULT_OFFER_CAPS, sameTerms, validateIssue, type IssueOfferInput, type OfferCaps } from './offers.ts';

/** The most offers one batch may carry: enough for a campaign, small enough for one request and one transaction. */
export const MAX_OFFERS_PER_BATCH = 1_000;

export type IssuedOrRefused = CreditOffer | ValidationError;

/** A batch's answers, and the OFFER_RECEIVED notifications its transaction committed (for what follows the commit). */
export interface BatchIssued {
  results: IssuedOrRefused[];
  received: Notification[];
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
    await createUsers(toWrite.map((i) => inputs[i]!.userId));
    const { written, notifications } = await insertOffers(toWrite.map((i) => inputs[i]!), correlationId);
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
 * The users offers are issued to, created when new. Its own statement, committed before the
 * offers': two batches sharing new users each insert them in id order, so one waits for the
 * other's commit (then finds the row) rather than deadlocking; no user is ever inserted twice.
 */
async function createUsers(userIds: readonly string[]): Promise<void> {
  const ids = [...new Set(userIds)].sort();
  await prisma.$executeRaw`
    INSERT INTO users (id) SELECT id FROM unnest(${ids}::text[]) AS u(id) ORDER BY id
    ON CONFLICT (id) DO NOTHING`;
}

const OFFER_COLUMNS = Prisma.sql`
  id, user_id AS "userId", limit_cents AS "limitCents", interest_rate_bps AS "interestRateBps", currency,
  status::text AS status, expires_at AS "expiresAt", external_ref AS "externalRef", campaign_id AS "campaignId",
  created_at AS "createdAt", accepted_at AS "acceptedAt", declined_at AS "declinedAt", expired_at AS "expiredAt",
  temporary_until AS "temporaryUntil", withdrawn_at AS "withdrawnAt"`;

/**
 * Writes the offers in one statement (the place where what is created with each offer joins
 * in), then their OFFER_RECEIVED. Returns, per input, the offer written, or undefined when its
 * externalRef was taken already, and the notifications created. Ids are chosen here, so each row returned is known to be its input's. Rows go in
 * externalRef order: concurrent batches sharing refs wait on each other in the same order and
 * never deadlock.
 */
async function insertOffers(
  inputs: readonly IssueOfferInput[],
  correlationId: string,
): Promise<{ written: (CreditOffer | undefined)[]; notifications: Notification[] }> {
  const ids = inputs.map(() => randomUUID());
  const column = <T>(pick: (input: IssueOfferInput) => T) => inputs.map(pick);
  // The offers and their OFFER_RECEIVED commit together: each user is told of each offer, once.
  const { rows, notifications } = await prisma.$transaction(async (tx) => {
    const written = await tx.$queryRaw<(CreditOffer & { locale: string | null })[]>`
    WITH input AS (
      -- Timestamps travel as ISO text: the columns hold UTC wall time.
      SELECT * FROM unnest(${ids}::uuid[], ${column((o) => o.userId)}::text[], ${column((o) => BigInt(o.limitCents))}::bigint[],
                           ${column((o) => o.interestRateBps)}::int[], ${column((o) => o.currency ?? 'BRL')}::text[],
                           ${column((o) => o.expiresAt.toISOString())}::timestamptz[], ${column((o) => o.externalRef ?? null)}::text[],
                           ${column((o) => o.campaignId ?? null)}::text[], ${column((o) => o.temporaryUntil?.toISOString() ?? null)}::timestamptz[])
             AS i(id, user_id, limit_cents, rate, currency, expires_at, external_ref, campaign_id, temporary_until)),
    offers AS (
      INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, expires_at, external_ref, campaign_id, temporary_until)
      SELECT id, user_id, limit_cents, rate, currency, expires_at AT TIME ZONE 'UTC', external_ref, campaign_id, temporary_until AT TIME ZONE 'UTC'
        FROM input ORDER BY external_ref NULLS LAST
      ON CONFLICT (external_ref) DO NOTHING
      RETURNING *)
    SELECT ${OFFER_COLUMNS}, (SELECT locale FROM users WHERE id = offers.user_id) AS locale FROM offers`;
    return { rows: written, notifications: await notifyOffersReceived(tx, written, correlationId) };
  });
  const byId = new Map(rows.map(({ locale: _, ...offer }) => [offer.id, offer as CreditOffer]));
  return { written: ids.map((id) => byId.get(id)), notifications };
}

async function offersByRef(refs: readonly string[]): Promise<Map<string, CreditOffer>> {
  if (refs.length === 0) return new Map();
  const rows = await prisma.$queryRaw<CreditOffer[]>`
    SELECT ${OFFER_COLUMNS} FROM credit_offers WHERE external_ref = ANY(${[...new Set(refs)]}::text[])`;
  return new Map(rows.map((row) => [row.externalRef!, row]));
}
