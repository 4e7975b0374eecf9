// A user who already has a credit profile: what most tests start from. One helper, two ways in,
// chosen at the call site because they differ in what the test then sees.
import { expect } from 'vitest';
import { prisma } from '../../src/platform/db.ts';
import { newUserId, token } from './client.ts';
import { acceptOffer, issueOffer, waitForFinal } from './fixtures.ts';

export interface UserWithProfile {
  userId: string;
  userToken: string;
}

export interface ProfileOptions {
  /** The profile's limit (and available credit), in minor units. Default: R$ 10.000,00. */
  limitCents?: number;
  /** Default: a new user. */
  userId?: string;
}

/**
 * `{ api: url }`: as a user gets one, through that API: a first offer accepted and DEPLOYED (with
 * no failure), so its deployment's events, outbox rows and notification exist too; needs a worker.
 * `'seeded'`: written straight into the database, with no event at all, for tests of the events
 * that follow alone (a stream whose first sequence is 1, a consumer with no service running).
 */
export async function userWithProfile(from: { api: string } | 'seeded', options: ProfileOptions = {}): Promise<UserWithProfile> {
  const { limitCents = 1_000_000, userId = newUserId() } = options;
  if (from === 'seeded') {
    await prisma.user.create({
      data: { id: userId, creditProfile: { create: { currency: 'BRL', limitCents: BigInt(limitCents), availableCents: BigInt(limitCents), interestRateBps: 250 } } },
    });
    return { userId, userToken: await token(userId) };
  }
  const first = await issueOffer(from.api, { userId, limitCents });
  const deployed = await waitForFinal(from.api, (await acceptOffer(from.api, first.offerId, first.userToken)).deployment.id, first.userToken);
  expect(deployed).toMatchObject({ status: 'DEPLOYED', failureCode: null, failureReason: null });
  return { userId, userToken: first.userToken };
}
