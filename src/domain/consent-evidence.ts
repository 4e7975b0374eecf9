// The consent evidence's seal: an HMAC-SHA256, with a key from the environment, over the exact
// terms and the acceptance's facts (who, when, from where, with which token). Anyone who can
// write the consent table but lacks the key cannot rewrite a row so that it still verifies;
// the key's id is stored beside the HMAC, so that keys can rotate.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface ConsentKey {
  id: string;
  secret: string;
}

/** What the HMAC covers: the terms (with their sha256) and the facts of the acceptance. */
export interface ConsentFacts {
  terms: Record<string, string | number>;
  termsHash: string;
  acceptedAt: Date;
  ipAddress: string | null;
  userAgent: string | null;
  correlationId: string;
  tokenId: string | null;
  tokenIssuedAt: Date | null;
}

/** The facts as one canonical text: keys sorted, dates as ISO strings, absent values as null. */
export function evidenceText(facts: ConsentFacts): string {
  const flat: Record<string, string | number | null> = {
    ...Object.fromEntries(Object.entries(facts.terms).map(([key, value]) => [`terms.${key}`, value])),
    termsHash: facts.termsHash,
    acceptedAt: facts.acceptedAt.toISOString(),
    ipAddress: facts.ipAddress,
    userAgent: facts.userAgent,
    correlationId: facts.correlationId,
    tokenId: facts.tokenId,
    tokenIssuedAt: facts.tokenIssuedAt?.toISOString() ?? null,
  };
  return JSON.stringify(Object.fromEntries(Object.entries(flat).sort(([a], [b]) => (a < b ? -1 : 1))));
}

export function sealEvidence(facts: ConsentFacts, key: ConsentKey): { evidenceHmac: string; hmacKeyId: string } {
  return { evidenceHmac: createHmac('sha256', key.secret).update(evidenceText(facts)).digest('hex'), hmacKeyId: key.id };
}

/** Whether a stored row's HMAC matches its facts under `key` (the key its hmacKeyId names). */
export function evidenceHolds(facts: ConsentFacts, evidenceHmac: string, key: ConsentKey): boolean {
  const expected = Buffer.from(sealEvidence(facts, key).evidenceHmac, 'hex');
  const stored = Buffer.from(evidenceHmac, 'hex');
  return stored.length === expected.length && timingSafeEqual(stored, expected);
}
