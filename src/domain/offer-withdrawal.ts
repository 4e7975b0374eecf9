// Offers the credit engine no longer stands behind: a PENDING offer becomes WITHDRAWN before its
// user accepts it (an accepted one cannot be withdrawn), and the user's unacknowledged
// notifications about it (OFFER_RECEIVED, OFFER_EXPIRING) are acknowledged by the service, so the
// app's badge drops; a push not yet sent is then dropped too (its offer is no longer open).
import { prisma, Prisma, type CreditOffer, type Tx } from '../platform/db.ts';
import { hasControlCharacters, isUuid, NotFoundError, OfferNotPendingError, ValidationError } from './errors.ts';

/** Offers withdrawn per transaction by a campaign's withdrawal. */
const CAMPAIGN_BATCH = 1_000;

/**
 * In the caller's transaction: the offers chosen by `which` (a SQL condition over `o`, a
 * credit_offers row) that are still PENDING become WITHDRAWN, and their notifications that ask
 * for an answer are acknowledged. Offers another transaction holds (being accepted right now) are
 * skipped, not waited for: the acceptance wins. Returns the offers withdrawn.
 */
export async function withdrawOffersWhere(tx: Tx, which: Prisma.Sql, now: Date, limit = CAMPAIGN_BATCH): Promise<{ id: string; userId: string }[]> {
  return tx.$queryRaw<{ id: string; userId: string }[]>`
    WITH chosen AS (
      SELECT o.id FROM credit_offers o WHERE o.status = 'PENDING' AND ${which} LIMIT ${limit} FOR UPDATE OF o SKIP LOCKED),
    withdrawn AS (
      UPDATE credit_offers o SET status = 'WITHDRAWN', withdrawn_at = ${now}
        FROM chosen WHERE o.id = chosen.id
      RETURNING o.id, o.user_id),
    acknowledged AS (
      UPDATE notifications n SET status = 'ACKNOWLEDGED', acknowledged_at = ${now}
        FROM withdrawn w
       WHERE n.offer_id = w.id AND n.kind IN ('OFFER_RECEIVED', 'OFFER_EXPIRING') AND n.acknowledged_at IS NULL)
    SELECT id::text AS id, user_id AS "userId" FROM withdrawn`;
}

/** Withdraws one PENDING offer (role credit-engine). */
export async function withdrawCreditOffer(id: string, now = new Date()): Promise<CreditOffer | NotFoundError | OfferNotPendingError> {
  if (!isUuid(id)) return new NotFoundError('Offer not found');
  const withdrawn = await prisma.$transaction((tx) => withdrawOffersWhere(tx, Prisma.sql`o.id = ${id}::uuid`, now, 1));
  const offer = await prisma.creditOffer.findUnique({ where: { id } });
  if (!offer) return new NotFoundError('Offer not found');
  if (withdrawn.length === 1 || offer.status === 'WITHDRAWN') return offer;
  // Accepted, expired, declined... (or being accepted this instant: the acceptance won).
  return new OfferNotPendingError(offer.status);
}

/**
 * Withdraws every PENDING offer of a campaign, a batch per transaction (a campaign may have a
 * million): returns how many it withdrew. Offers being accepted meanwhile stay with their users.
 */
export async function withdrawCampaignOffers(campaignId: string, now = new Date()): Promise<number | ValidationError> {
  if (campaignId.length === 0 || campaignId.length > 128 || hasControlCharacters(campaignId)) {
    return new ValidationError('campaignId must be 1 to 128 characters, without control characters', 'campaignId');
  }
  let total = 0;
  for (;;) {
    const batch = await prisma.$transaction((tx) => withdrawOffersWhere(tx, Prisma.sql`o.campaign_id = ${campaignId}`, now));
    total += batch.length;
    if (batch.length < CAMPAIGN_BATCH) return total;
  }
}
