// The refusal rules: what ends a deployment FAILED at once, with which code, before anything changes.
import { describe, expect, it } from 'vitest';
import { refusal, type RefusalInput } from '../../src/domain/refusal-rules.ts';

const profile: RefusalInput[0] = { limitCents: 100_000n, usedCents: 40_000n, currency: 'BRL', appliedAcceptanceSequence: 1 };
const deployment: RefusalInput[1] = { offerStatus: 'ACCEPTED', acceptanceSequence: 2, currency: 'BRL', newLimitCents: 250_000n };

describe('refusal rules', () => {
  it('let a valid, newer acceptance above the credit in use through', () => {
    expect(refusal(profile, deployment)).toBeNull();
    // Exactly the credit in use is enough.
    expect(refusal(profile, { ...deployment, newLimitCents: 40_000n })).toBeNull();
  });

  it('refuse an offer that is no longer accepted', () => {
    expect(refusal(profile, { ...deployment, offerStatus: 'EXPIRED' })).toMatchObject({ code: 'OFFER_NOT_VALID' });
  });

  it('refuse an older acceptance that reaches the worker after a newer one was applied', () => {
    expect(refusal({ ...profile, appliedAcceptanceSequence: 3 }, deployment)).toMatchObject({ code: 'SUPERSEDED' });
  });

  it('refuse another currency than the profile\'s once it has a limit', () => {
    expect(refusal(profile, { ...deployment, currency: 'USD' })).toMatchObject({ code: 'CURRENCY_MISMATCH' });
  });

  it('refuse another currency than an empty profile\'s too (usage may be synced onto it)', () => {
    expect(refusal({ ...profile, limitCents: 0n, usedCents: 0n, currency: 'USD' }, deployment)).toMatchObject({ code: 'CURRENCY_MISMATCH' });
  });

  it('refuse a limit below the credit in use, by one cent', () => {
    expect(refusal(profile, { ...deployment, newLimitCents: 39_999n })).toEqual({
      code: 'LIMIT_BELOW_USAGE',
      reason: 'the offered limit R$ 399,99 is below the credit in use R$ 400,00',
    });
  });
});
