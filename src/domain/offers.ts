// Offers: issued by the credit engine, accepted or declined by their user.
import { createHash } from 'node:crypto';
import type { Viewer } from './viewer.ts';
import { hotQuery, prisma, Prisma, type CreditDeployment, type CreditOffer } from '../platform/db.ts';
import { hasControlCharacters, isUuid, NotFoundError, OfferExpiredError, OfferNotPendingError, ValidationError } from './errors.ts';
import { isCurrencyCode } from './money.ts';
import { sealEvidence, type ConsentKey } from './consent-evidence.ts';
import { languageOf, type Language } from './notification-content.ts';
import { readAtAcceptance, readPairAtAcceptance, type ReadAtAcceptance, type ReadPair } from './deployment-locks.ts';

/** What the credit engine may offer at most (configured; a bug or a stolen key should not go further). */
export interface OfferCaps {
  maxLimitCents: number;
  maxRateBps: number;
  /** How far in the future an offer may expire. */
  maxExpiryDays: number;
}

export const DEFAULT_OFFER_CAPS: OfferCaps = { maxLimitCents: 1_000_000_000, maxRateBps: 50_000, maxExpiryDays: 180 };
const DAY_MS = 86_400_000;

export interface IssueOfferInput {
  userId: string;
  limitCents: number;
  interestRateBps: number;
  currency?: string | null;
  expiresAt: Date;
  externalRef?: string | null;
  /** The issuer's campaign this offer belongs to, if any. */
  campaignId?: string | null;
  /** A temporary increase: accepting it raises the limit until this time, then it returns to the permanent one. */
  temporaryUntil?: Date | null;
}

/**
 * The first thing wrong with an offer to issue, or null. `at` names the input in the error's
 * field: `input` for one offer, `inputs[3]` for one of a batch.
 */
export function validateIssue(input: IssueOfferInput, caps: OfferCaps, now: Date, at = 'input'): ValidationError | null {
  const invalid = firstProblem(input, caps, now);
  return invalid && new ValidationError(invalid.message, `${at}.${invalid.field}`);
}

function firstProblem(input: IssueOfferInput, caps: OfferCaps, now: Date): { message: string; field: string } | null {
  const problem = (message: string, field: string) => ({ message, field });
  const currency = input.currency ?? 'BRL';
  if (input.userId.trim().length === 0 || input.userId.length > 128 || hasControlCharacters(input.userId)) {
    return problem('userId must be 1 to 128 characters, without control characters', 'userId');
  }
  if (!Number.isSafeInteger(input.limitCents) || input.limitCents <= 0 || input.limitCents > caps.maxLimitCents) {
    return problem(`limitCents must be a whole number of minor units from 1 to ${caps.maxLimitCents}`, 'limitCents');
  }
  if (!Number.isInteger(input.interestRateBps) || input.interestRateBps < 0 || input.interestRateBps > caps.maxRateBps) {
    return problem(`interestRateBps must be between 0 and ${caps.maxRateBps}`, 'interestRateBps');
  }
  if (!isCurrencyCode(currency)) {
    return problem(`currency must be an ISO 4217 code such as BRL, got '${currency}'`, 'currency');
  }
  if (!(input.expiresAt.getTime() > now.getTime())) {
    return problem('expiresAt must be in the future', 'expiresAt');
  }
  if (input.expiresAt.getTime() > now.getTime() + caps.maxExpiryDays * DAY_MS) {
    return problem(`expiresAt must be within ${caps.maxExpiryDays} days`, 'expiresAt');
  }
  if (input.externalRef != null && (input.externalRef.length === 0 || input.externalRef.length > 200 || hasControlCharacters(input.externalRef))) {
    return problem('externalRef must be 1 to 200 characters, without control characters', 'externalRef');
  }
  if (input.temporaryUntil != null && !(input.temporaryUntil.getTime() > input.expiresAt.getTime())) {
    return problem('temporaryUntil must be after expiresAt: the increase must outlast any acceptance', 'temporaryUntil');
  }
  if (input.temporaryUntil != null && input.temporaryUntil.getTime() > input.expiresAt.getTime() + 366 * DAY_MS) {
    return problem('temporaryUntil must be within a year of expiresAt', 'temporaryUntil');
  }
  if (input.campaignId != null && (input.campaignId.length === 0 || input.campaignId.length > 128 || hasControlCharacters(input.campaignId))) {
    return problem('campaignId must be 1 to 128 characters, without control characters', 'campaignId');
  }
  return null;
}

/** Whether an offer already issued under the input's externalRef is the one the input asks for. */
export function sameTerms(offer: CreditOffer, input: IssueOfferInput): boolean {
  return (
    offer.userId === input.userId &&
    offer.limitCents === BigInt(input.limitCents) &&
    offer.interestRateBps === input.interestRateBps &&
    offer.currency === (input.currency ?? 'BRL') &&
    offer.expiresAt.getTime() === input.expiresAt.getTime() &&
    offer.campaignId === (input.campaignId ?? null) &&
    (offer.temporaryUntil?.getTime() ?? null) === (input.temporaryUntil?.getTime() ?? null)
  );
}

export function conflictingRef(at = 'input') {
  return new ValidationError('externalRef was already used for an offer with different terms', `${at}.externalRef`);
}

/** Where an accepting request came from, and the token that proved who: kept as consent evidence. */
export interface RequestOrigin {
  correlationId: string;
  ipAddress: string | null;
  userAgent: string | null;
  /** The token's jti, or "sha256:" and its hash; null without a token. */
  tokenId?: string | null;
  tokenIssuedAt?: Date | null;
}

/** JSON with keys sorted: the same terms always give the same text, whatever the key order. */
export function canonicalJson(value: Record<string, string | number>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1))));
}

/** The exact terms the user agreed to, and the sha256 of their canonical JSON. */
export function consentTerms(offer: CreditOffer) {
  const terms = {
    offerId: offer.id,
    userId: offer.userId,
    limitCents: offer.limitCents.toString(),
    currency: offer.currency,
    interestRateBps: offer.interestRateBps,
    expiresAt: offer.expiresAt.toISOString(),
    // A temporary increase: the limit holds until then (absent otherwise, so earlier terms keep their hash).
    ...(offer.temporaryUntil ? { temporaryUntil: offer.temporaryUntil.toISOString() } : {}),
  };
  const termsHash = createHash('sha256').update(canonicalJson(terms)).digest('hex');
  return { terms, termsHash };
}

/**
 * A deployment this accept created carries, for its first attempt, what the worker would read
 * first (`readForApply`: the accept's own statement read it, so the job saves the worker that
 * round trip); null when the read may have missed a decision taken at the same moment.
 */
export type AcceptedDeployment = CreditDeployment & { readForApply?: ReadPair | null };

export type AcceptResult = AcceptedDeployment | NotFoundError | OfferExpiredError | OfferNotPendingError;

/** Why an offer that is not open for an answer cannot take one: it expired, or it is past PENDING. */
function notOpen(offer: CreditOffer, now: Date): OfferExpiredError | OfferNotPendingError {
  if (offer.status === 'EXPIRED' || (offer.status === 'PENDING' && offer.expiresAt <= now)) {
    return new OfferExpiredError(offer.expiresAt);
  }
  return new OfferNotPendingError(offer.status);
}

const isOpen = (offer: CreditOffer, now: Date) => offer.status === 'PENDING' && offer.expiresAt > now;

/**
 * Records the acceptance, its consent and a QUEUED deployment with its first audit event, all or
 * nothing. Idempotent: accepting an accepted offer returns its deployment. The caller enqueues
 * the job when the deployment awaits one (`awaitsJob`). Two round trips: the offer's terms are
 * read first (they never change after issue), then one statement writes everything, guarded by
 * the offer still being PENDING.
 */
export async function acceptOffer(
  viewer: Viewer,
  offerId: string,
  origin: RequestOrigin,
  consentKey: ConsentKey,
  now = new Date(),
): Promise<AcceptResult> {
  if (!isUuid(offerId)) return new NotFoundError('Offer not found');
  const offer = await ownOffer(viewer, offerId);
  if (!offer) return new NotFoundError('Offer not found');
  if (isOpen(offer, now)) {
    const created = await recordAcceptance(offer, languageOf(viewer.locale), origin, consentKey, now);
    if (created) return created;
    // A concurrent accept won: answer as it left the offer.
    const after = await ownOffer(viewer, offerId);
    if (!after) return new NotFoundError('Offer not found');
    return after.deployment ?? notOpen(after, now);
  }
  return offer.deployment ?? notOpen(offer, now);
}

/** The columns of a credit_deployments row (of the relation named `d`) as a CreditDeployment, for raw statements. */
const deploymentColumns = (d: string, prefix = '') => Prisma.raw(
  [
    ['id', 'id'], ['offer_id', 'offerId'], ['user_id', 'userId'], ['status::text', 'status'], ['attempts', 'attempts'], ['currency', 'currency'],
    ['previous_limit_cents', 'previousLimitCents'], ['new_limit_cents', 'newLimitCents'], ['failure_code::text', 'failureCode'],
    ['failure_reason', 'failureReason'], ['correlation_id', 'correlationId'], ['last_sequence', 'lastSequence'], ['queued_at', 'queuedAt'],
    ['started_at', 'startedAt'], ['completed_at', 'completedAt'], ['processing_ms', 'processingMs'], ['acceptance_sequence', 'acceptanceSequence'],
  ]
    .map(([column, field]) => `${d}.${column} AS "${prefix}${field}"`)
    .join(', '),
);

/** The viewer's offer with its deployment (null before acceptance), in one statement; null when not theirs. */
async function ownOffer(viewer: Viewer, offerId: string): Promise<(CreditOffer & { deployment: CreditDeployment | null }) | null> {
  const rows = await hotQuery<Record<string, unknown>>('read own offer', Prisma.sql`
    SELECT o.id, o.user_id AS "userId", o.limit_cents AS "limitCents", o.interest_rate_bps AS "interestRateBps", o.currency,
           o.status::text AS status, o.expires_at AS "expiresAt", o.external_ref AS "externalRef", o.created_at AS "createdAt",
           o.accepted_at AS "acceptedAt", o.declined_at AS "declinedAt", o.expired_at AS "expiredAt",
           o.campaign_id AS "campaignId", o.temporary_until AS "temporaryUntil", o.withdrawn_at AS "withdrawnAt",
           ${deploymentColumns('d', 'd.')}
      FROM credit_offers o LEFT JOIN credit_deployments d ON d.offer_id = o.id
     WHERE o.id = ${offerId}::uuid AND o.user_id = ${viewer.userId}`);
  const row = rows[0];
  if (!row) return null;
  const offer: Record<string, unknown> = {};
  const deployment: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (key.startsWith('d.')) deployment[key.slice(2)] = value;
    else offer[key] = value;
  }
  return { ...(offer as CreditOffer), deployment: deployment.id ? (deployment as CreditDeployment) : null };
}

/** A deployment still QUEUED needs its job (adding it again is a no-op: job ids are deployment ids). */
export function awaitsJob(deployment: Pick<CreditDeployment, 'status'>): boolean {
  return deployment.status === 'QUEUED';
}

/**
 * The conditional UPDATE takes the offer's row lock: of concurrent accepts exactly one matches;
 * the others wait for it to commit, then match nothing and insert nothing (nor touch the user).
 * The winner takes the user's next acceptance sequence (the user row's lock orders acceptances
 * of one user) and marks the user's other PENDING offers SUPERSEDED, in the same statement: the
 * latest acceptance is the one whose terms the profile ends on. Offers locked by a concurrent
 * statement are skipped rather than waited for: one being accepted at the same moment takes the
 * next sequence itself, so waiting for it could only deadlock. The same update stores the token's
 * language when it names one (`language`): the deployment's notification, written later by a
 * worker with no token at hand, is in the language stored here (a round trip of its own before).
 */
async function recordAcceptance(
  offer: CreditOffer,
  language: Language | null,
  origin: RequestOrigin,
  consentKey: ConsentKey,
  now: Date,
): Promise<AcceptedDeployment | null> {
  const { terms, termsHash } = consentTerms(offer);
  const tokenId = origin.tokenId ?? null;
  const tokenIssuedAt = origin.tokenIssuedAt ?? null;
  const { evidenceHmac, hmacKeyId } = sealEvidence(
    { terms, termsHash, acceptedAt: now, ipAddress: origin.ipAddress, userAgent: origin.userAgent, correlationId: origin.correlationId, tokenId, tokenIssuedAt },
    consentKey,
  );
  const rows = await hotQuery<CreditDeployment & ReadAtAcceptance>('record acceptance', Prisma.sql`
    WITH o AS (
      UPDATE credit_offers SET status = 'ACCEPTED', accepted_at = ${now}
       WHERE id = ${offer.id}::uuid AND status = 'PENDING' AND expires_at > ${now}
      RETURNING id),
    u AS (
      UPDATE users SET last_acceptance_sequence = last_acceptance_sequence + 1, locale = coalesce(${language}::text, locale)
       WHERE id = ${offer.userId} AND EXISTS (SELECT 1 FROM o)
      RETURNING last_acceptance_sequence AS sequence, locale),
    s AS (
      UPDATE credit_offers SET status = 'SUPERSEDED'
       WHERE id IN (SELECT p.id FROM credit_offers p, u
                     WHERE p.user_id = ${offer.userId} AND p.status = 'PENDING' AND p.id <> ${offer.id}::uuid
                       FOR UPDATE OF p SKIP LOCKED)),
    c AS (
      INSERT INTO acceptance_consents (id, offer_id, user_id, accepted_at, ip_address, user_agent, terms, terms_hash, correlation_id,
                                       evidence_hmac, hmac_key_id, token_id, token_issued_at)
      SELECT uuid_v7(), o.id, ${offer.userId}, ${now}, ${origin.ipAddress}, ${origin.userAgent},
             ${JSON.stringify(terms)}::jsonb, ${termsHash}, ${origin.correlationId},
             ${evidenceHmac}, ${hmacKeyId}, ${tokenId}, ${tokenIssuedAt}
        FROM o),
    d AS (
      INSERT INTO credit_deployments (id, offer_id, user_id, status, currency, new_limit_cents, correlation_id, last_sequence, queued_at, acceptance_sequence)
      SELECT uuid_v7(), o.id, ${offer.userId}, 'QUEUED', ${offer.currency}, ${offer.limitCents}, ${origin.correlationId}, 1, ${now}, u.sequence
        FROM o, u
      RETURNING *),
    e AS (
      INSERT INTO deployment_events (deployment_id, sequence, type, status, correlation_id, detail)
      SELECT d.id, 1, 'QUEUED', 'QUEUED', ${origin.correlationId}, jsonb_build_object('offerId', d.offer_id::text)
        FROM d)
    SELECT ${deploymentColumns('d')}, u.locale AS "readLocale", ${readAtAcceptance(offer.temporaryUntil !== null)}
      FROM d CROSS JOIN u LEFT JOIN credit_profiles cp ON cp.user_id = d.user_id`);
  const row = rows[0];
  if (!row) return null;
  const { readProfile, readEarlierPending, readLifecycle, readFresh, readLocale, ...deployment } = row;
  const read = { readProfile, readEarlierPending, readLifecycle, readFresh, readLocale };
  return { ...deployment, readForApply: readPairAtAcceptance(deployment, offer.interestRateBps, read) };
}

export async function declineOffer(
  viewer: Viewer,
  offerId: string,
  now = new Date(),
): Promise<CreditOffer | NotFoundError | OfferExpiredError | OfferNotPendingError> {
  if (!isUuid(offerId)) return new NotFoundError('Offer not found');
  const [declined] = await prisma.creditOffer.updateManyAndReturn({
    where: { id: offerId, userId: viewer.userId, status: 'PENDING', expiresAt: { gt: now } },
    data: { status: 'DECLINED', declinedAt: now },
  });
  if (declined) return declined;
  const offer = await prisma.creditOffer.findFirst({ where: { id: offerId, userId: viewer.userId } });
  return offer ? notOpen(offer, now) : new NotFoundError('Offer not found');
}
