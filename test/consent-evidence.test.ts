// The consent evidence is sealed and kept: an HMAC with the configured key over the terms and the
// acceptance's facts, the key's id beside it, the accepting token's id (jti, or the token's hash)
// and issue time; a row rewritten without the key no longer verifies; and the table refuses
// UPDATE, DELETE and TRUNCATE to the service's own connection.
import { createHash } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { evidenceHolds, type ConsentFacts } from '../src/domain/consent-evidence.ts';
import { prisma } from '../src/platform/db.ts';
import { gql, newUserId, token } from './support/client.ts';
import { ACCEPT_OFFER, issueOffer } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig } from './support/settings.ts';

const KEY = { id: 'test-2026', secret: 'consent-key-for-this-test-file-0123456789' };
const service = serviceForTests({ worker: false, config: { ...testConfig, CONSENT_HMAC_KEY: KEY.secret, CONSENT_HMAC_KEY_ID: KEY.id } });

async function consentOf(offerId: string) {
  const row = await prisma.acceptanceConsent.findUniqueOrThrow({ where: { offerId } });
  const facts: ConsentFacts = {
    terms: row.terms as Record<string, string | number>,
    termsHash: row.termsHash,
    acceptedAt: row.acceptedAt,
    ipAddress: row.ipAddress,
    userAgent: row.userAgent,
    correlationId: row.correlationId,
    tokenId: row.tokenId,
    tokenIssuedAt: row.tokenIssuedAt,
  };
  return { row, facts };
}

describe('consent evidence', () => {
  it("is sealed with the configured key, names the key, and records the token's jti and iat", async () => {
    const userId = newUserId();
    const { offerId } = await issueOffer(service.url, { userId });
    const iat = Math.floor(Date.now() / 1000) - 10;
    const jwt = await new SignJWT({ roles: ['customer'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setJti('token-42')
      .setIssuedAt(iat)
      .setExpirationTime(iat + 600)
      .sign(new TextEncoder().encode(testConfig.JWT_SECRET));
    expect((await gql(service.url, ACCEPT_OFFER, { offerId }, jwt)).data.acceptOffer.__typename).toBe('AcceptOfferSuccess');
    const { row, facts } = await consentOf(offerId);
    expect(row).toMatchObject({ hmacKeyId: KEY.id, tokenId: 'token-42', tokenIssuedAt: new Date(iat * 1000) });
    expect(evidenceHolds(facts, row.evidenceHmac!, KEY)).toBe(true);
    // Rewritten consistently (terms and their sha256) by someone without the key: it no longer verifies.
    const forged = { ...facts, terms: { ...facts.terms, limitCents: '99999999' } };
    expect(evidenceHolds(forged, row.evidenceHmac!, KEY)).toBe(false);
    expect(evidenceHolds(facts, row.evidenceHmac!, { ...KEY, secret: 'another-key-of-at-least-thirty-two-chars' })).toBe(false);
  });

  it("records a token without jti by the token's sha256", async () => {
    const { offerId, userId } = await issueOffer(service.url);
    const jwt = await token(userId);
    await gql(service.url, ACCEPT_OFFER, { offerId }, jwt);
    const { row } = await consentOf(offerId);
    expect(row.tokenId).toBe(`sha256:${createHash('sha256').update(jwt).digest('hex')}`);
  });

  it('cannot be updated, deleted or truncated by the service', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    await gql(service.url, ACCEPT_OFFER, { offerId }, userToken);
    const { row } = await consentOf(offerId);
    await expect(prisma.acceptanceConsent.update({ where: { offerId }, data: { ipAddress: '10.0.0.1' } })).rejects.toThrow(/append-only/);
    await expect(prisma.acceptanceConsent.delete({ where: { offerId } })).rejects.toThrow(/append-only/);
    await expect(prisma.$executeRawUnsafe('TRUNCATE acceptance_consents CASCADE')).rejects.toThrow(/append-only/);
    expect(await prisma.acceptanceConsent.findUniqueOrThrow({ where: { offerId } })).toEqual(row);
  });
});
