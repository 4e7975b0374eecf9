// Credit profiles: the credit engine reports the credit in use; the limit changes only through deployments.
import { randomUUID } from 'node:crypto';
import { prisma, Prisma, type CreditProfile } from '../platform/db.ts';
import { CREDIT_LIMIT_CHANGED, isoText, outboxWrite } from './downstream-events.ts';
import { hasControlCharacters, NotFoundError, ValidationError } from './errors.ts';
import { newRowId } from './ids.ts';

/**
 * Records the credit in use now and recomputes what is available, in one statement (no lost
 * update against a deployment changing the limit at the same moment). When what is available
 * changes, the same statement writes the downstream event (credit.limit.changed, USAGE_SYNC).
 */
export async function syncCreditUsage(
  userId: string,
  usedCents: number,
  correlationId = `usage-sync-${randomUUID()}`,
  now = new Date(),
): Promise<CreditProfile | NotFoundError | ValidationError> {
  // A user id with control characters names nobody (and Postgres would refuse a NUL).
  if (hasControlCharacters(userId)) return new NotFoundError('This user has no credit profile');
  if (!Number.isSafeInteger(usedCents) || usedCents < 0) {
    return new ValidationError('usedCents must be a whole number of minor units, zero or more', 'input.usedCents');
  }
  const used = BigInt(usedCents);
  // The event's id names its history row too.
  const eventId = newRowId();
  const [updated] = await prisma.$queryRaw<CreditProfile[]>`
    WITH before AS (SELECT user_id, available_cents FROM credit_profiles WHERE user_id = ${userId} FOR UPDATE),
    p AS (
      UPDATE credit_profiles c
         SET used_cents = ${used}, available_cents = GREATEST(c.limit_cents - ${used}, 0), version = c.version + 1, updated_at = now()
        FROM before WHERE c.user_id = before.user_id
      RETURNING c.user_id AS "userId", c.currency, c.limit_cents AS "limitCents", c.used_cents AS "usedCents",
                c.available_cents AS "availableCents", c.interest_rate_bps AS "interestRateBps", c.version,
                c.last_limit_change_at AS "lastLimitChangeAt", c.updated_at AS "updatedAt", before.available_cents AS "previousAvailableCents",
                c.temporary_until AS "temporaryUntil", c.permanent_limit_cents AS "permanentLimitCents",
                c.applied_acceptance_sequence AS "appliedAcceptanceSequence"),
    history AS (
      INSERT INTO credit_line_changes (id, user_id, at, reason, currency, previous_limit_cents, new_limit_cents, available_cents)
      SELECT ${eventId}::uuid, p."userId", ${now}, 'USAGE_SYNC', p.currency, p."limitCents", p."limitCents", p."availableCents"
        FROM p WHERE p."availableCents" <> p."previousAvailableCents"),
    ${outboxWrite({
      type: CREDIT_LIMIT_CHANGED,
      userId,
      correlationId,
      occurredAt: now,
      id: eventId,
      from: Prisma.sql`p`,
      when: Prisma.sql`p."availableCents" <> p."previousAvailableCents"`,
      data: Prisma.sql`jsonb_build_object(
        'reason', 'USAGE_SYNC'::text, 'currency', p.currency::text,
        'previousLimitCents', p."limitCents"::text, 'newLimitCents', p."limitCents"::text,
        'availableCents', p."availableCents"::text, 'usedCents', p."usedCents"::text,
        'interestRateBps', p."interestRateBps", 'offerId', NULL::text, 'deploymentId', NULL::text,
        'changeType', NULL::text, 'historyId', ${eventId}::text, 'effectiveAt', ${now.toISOString()}::text, 'decreaseReason', NULL::text,
        'limitChangeId', NULL::text, 'temporaryUntil', ${isoText(Prisma.sql`p."temporaryUntil"`)})`,
    })}
    SELECT "userId", currency, "limitCents", "usedCents", "availableCents", "interestRateBps", version, "lastLimitChangeAt", "updatedAt",
           "temporaryUntil", "permanentLimitCents", "appliedAcceptanceSequence" FROM p`;
  return updated ?? new NotFoundError('This user has no credit profile');
}
