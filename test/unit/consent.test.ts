// The consent evidence: the exact terms the user agreed to, and a hash that any key order reproduces.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, consentTerms } from '../../src/domain/offers.ts';
import type { CreditOffer } from '../../src/platform/db.ts';

const offer: CreditOffer = {
  id: '3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60',
  userId: 'alice',
  limitCents: 250_000n,
  currency: 'BRL',
  interestRateBps: 1_999,
  status: 'PENDING',
  expiresAt: new Date('2026-12-31T23:59:59.000Z'),
  externalRef: null,
  campaignId: null,
  createdAt: new Date('2026-11-01T00:00:00.000Z'),
  acceptedAt: null,
  declinedAt: null,
  expiredAt: null,
  temporaryUntil: null,
  withdrawnAt: null,
};

describe('consent terms', () => {
  it('are canonical JSON: the same terms in any key order give the same text', () => {
    expect(canonicalJson({ b: 1, a: 'x' })).toBe('{"a":"x","b":1}');
    expect(canonicalJson({ a: 'x', b: 1 })).toBe(canonicalJson({ b: 1, a: 'x' }));
  });

  it('carry the amount as an exact decimal string and hash to the sha256 of that text', () => {
    const { terms, termsHash } = consentTerms(offer);
    expect(terms).toEqual({
      offerId: offer.id,
      userId: 'alice',
      limitCents: '250000',
      currency: 'BRL',
      interestRateBps: 1_999,
      expiresAt: '2026-12-31T23:59:59.000Z',
    });
    const text =
      '{"currency":"BRL","expiresAt":"2026-12-31T23:59:59.000Z","interestRateBps":1999,"limitCents":"250000","offerId":"3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60","userId":"alice"}';
    expect(termsHash).toBe(createHash('sha256').update(text).digest('hex'));
  });

  it('change their hash when any term changes', () => {
    const base = consentTerms(offer).termsHash;
    expect(consentTerms({ ...offer, limitCents: 250_001n }).termsHash).not.toBe(base);
    expect(consentTerms({ ...offer, interestRateBps: 2_000 }).termsHash).not.toBe(base);
  });
});
