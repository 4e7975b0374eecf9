// The currency guard holds whenever a profile row exists, and a deployment that must wait for an
// earlier acceptance creates no empty profile (onto which a usage sync could then write, in a
// currency nobody accepted). Deployments are applied here by the domain's batch function, as the
// worker's batcher calls it, so that the test decides what shares a batch.
import { describe, expect, it } from 'vitest';
import { applyDeployments } from '../src/domain/deployments.ts';
import { prisma } from '../src/platform/db.ts';
import { engineToken, gql, token } from './support/client.ts';
import { ACCEPT_OFFER, ISSUE_OFFER } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';

const service = serviceForTests({ worker: false });
const SYNC = 'mutation ($input: SyncCreditUsageInput!) { syncCreditUsage(input: $input) { __typename } }';

async function accepted(userId: string, currency: string): Promise<string> {
  const input = { userId, limitCents: 100_000, interestRateBps: 100, currency, expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
  const offerId = (await gql(service.url, ISSUE_OFFER, { input }, await engineToken())).data.issueCreditOffer.offer.id;
  const result = await gql(service.url, ACCEPT_OFFER, { offerId }, await token(userId));
  return result.data.acceptOffer.deployment.id;
}

describe('a user with acceptances in two currencies', () => {
  it('gets no profile from the later one while the earlier waits; usage cannot be synced onto one; the earlier applies, the later is refused', async () => {
    const userId = `currency-${Date.now()}`;
    const first = await accepted(userId, 'BRL');
    const second = await accepted(userId, 'USD');

    // The later acceptance alone: it waits for the earlier one, and creates nothing.
    expect((await applyDeployments([second])).get(second)).toEqual({ kind: 'not-yet' });
    expect(await prisma.creditProfile.count({ where: { userId } })).toBe(0);
    const sync = await gql(service.url, SYNC, { input: { userId, usedCents: 5_000 } }, await engineToken());
    expect(sync.data.syncCreditUsage.__typename).toBe('NotFoundError');

    // Both in one batch, the later listed first: the profile is the earlier one's, in its currency.
    const outcomes = await applyDeployments([second, first]);
    expect(outcomes.get(first)?.kind).toBe('deployed');
    expect(outcomes.get(second)?.kind).toBe('deferred');
    expect(await prisma.creditProfile.findUniqueOrThrow({ where: { userId } })).toMatchObject({ currency: 'BRL', limitCents: 100_000n, usedCents: 0n });
    expect((await applyDeployments([second])).get(second)).toMatchObject({ kind: 'failed', code: 'CURRENCY_MISMATCH' });
  });
});
