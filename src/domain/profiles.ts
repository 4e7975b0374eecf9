// Credit profiles: the credit engine reports the credit in use; the limit changes only through deployments.
import { prisma, type CreditProfile } from '../platform/db.ts';
import { hasControlCharacters, NotFoundError, ValidationError } from './errors.ts';

/**
 * Records the credit in use now and recomputes what is available, in one statement (no lost
 * update against a deployment changing the limit at the same moment).
 */
export async function syncCreditUsage(userId: string, usedCents: number): Promise<CreditProfile | NotFoundError | ValidationError> {
  // A user id with control characters names nobody (and Postgres would refuse a NUL).
  if (hasControlCharacters(userId)) return new NotFoundError('This user has no credit profile');
  if (!Number.isSafeInteger(usedCents) || usedCents < 0) {
    return new ValidationError('usedCents must be a whole number of minor units, zero or more', 'input.usedCents');
  }
  const [updated] = await prisma.$queryRaw<CreditProfile[]>`
    UPDATE credit_profiles
       SET used_cents = ${BigInt(usedCents)},
           available_cents = GREATEST(limit_cents - ${BigInt(usedCents)}, 0),
           version = version + 1,
           updated_at = now()
     WHERE user_id = ${userId}
    RETURNING user_id AS "userId", currency, limit_cents AS "limitCents", used_cents AS "usedCents", available_cents AS "availableCents",
              interest_rate_bps AS "interestRateBps", version, last_limit_change_at AS "lastLimitChangeAt", updated_at AS "updatedAt"`;
  return updated ?? new NotFoundError('This user has no credit profile');
}
