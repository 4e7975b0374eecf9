// Credit profiles: the credit engine reports the credit in use; the limit changes only through deployments.
import { prisma } from '../platform/db.ts';
import { NotFoundError, ValidationError } from './errors.ts';

/**
 * Records the credit in use now and recomputes what is available, in one statement (no lost
 * update against a deployment changing the limit at the same moment).
 */
export async function syncCreditUsage(userId: string, usedCents: number): Promise<{ userId: string } | NotFoundError | ValidationError> {
  if (!Number.isSafeInteger(usedCents) || usedCents < 0) {
    return new ValidationError('usedCents must be a whole number of minor units, zero or more', 'input.usedCents');
  }
  const updated = await prisma.$executeRaw`
    UPDATE credit_profiles
       SET used_cents = ${BigInt(usedCents)},
           available_cents = GREATEST(limit_cents - ${BigInt(usedCents)}, 0),
           version = version + 1,
           updated_at = now()
     WHERE user_id = ${userId}`;
  return updated === 1 ? { userId } : new NotFoundError('This user has no credit profile');
}
