// The row locks an apply holds: a deployment (with its offer's terms and its user's language) and
// its user's credit profile (created empty on the user's first deployment). One column list per
// statement family, used by every statement that reads those rows.
import { z } from 'zod';
import { CreditDeploymentStatus, hotQuery, Prisma, type Tx } from '../platform/db.ts';
import { FINAL_STATUSES } from './deployment-events.ts';

export interface LockedDeployment {
  id: string;
  status: CreditDeploymentStatus;
  offerId: string;
  userId: string;
  correlationId: string;
  currency: string;
  newLimitCents: bigint;
  queuedAt: Date;
  offerStatus: string;
  interestRateBps: number;
  /** The user's acceptance sequence of this deployment (0 for ones accepted before sequences existed). */
  acceptanceSequence: number;
  /** The user's language, for the notification of the end. */
  locale: string | null;
}

export interface LockedProfile {
  userId: string;
  limitCents: bigint;
  usedCents: bigint;
  currency: string;
  version: number;
  /** The acceptance whose terms the profile holds. */
  appliedAcceptanceSequence: number;
}

/** A LockedDeployment's columns, of `credit_deployments d JOIN credit_offers o JOIN users u`. */
const DEPLOYMENT_COLUMNS = Prisma.sql`
    d.id, d.status::text AS status, d.offer_id AS "offerId", d.user_id AS "userId",
    d.correlation_id AS "correlationId", d.currency, d.new_limit_cents AS "newLimitCents",
    d.queued_at AS "queuedAt", o.status::text AS "offerStatus", o.interest_rate_bps AS "interestRateBps",
    coalesce(d.acceptance_sequence, 0) AS "acceptanceSequence", u.locale`;

const DEPLOYMENT_ROWS = Prisma.sql`credit_deployments d JOIN credit_offers o ON o.id = d.offer_id JOIN users u ON u.id = d.user_id`;

/** A LockedProfile's columns, of credit_profiles. */
const PROFILE_COLUMNS = Prisma.sql`user_id AS "userId", limit_cents AS "limitCents", used_cents AS "usedCents", currency, version,
              applied_acceptance_sequence AS "appliedAcceptanceSequence"`;

/** The columns of an empty profile row, and the values for `VALUES` / `SELECT` of (user, currency, rate). */
const NEW_PROFILE_COLUMNS = Prisma.sql`(user_id, currency, limit_cents, used_cents, available_cents, interest_rate_bps, version, updated_at)`;
const newProfileValues = (userId: Prisma.Sql, currency: Prisma.Sql, rate: Prisma.Sql) =>
  Prisma.sql`${userId}, ${currency}, 0, 0, 0, ${rate}, 0, now()`;

/**
 * Locks the deployment's row for the rest of the transaction (one step at a time per
 * deployment) and reads its offer's terms and its user's language with it.
 */
export async function lockDeployment(tx: Tx, id: string): Promise<LockedDeployment | null> {
  const rows = await tx.$queryRaw<LockedDeployment[]>`
    SELECT ${DEPLOYMENT_COLUMNS} FROM ${DEPLOYMENT_ROWS} WHERE d.id = ${id}::uuid FOR UPDATE OF d`;
  return rows[0] ?? null;
}

/** The user's profile, created empty on the first deployment, locked for the transaction (waiting for it). */
export async function lockProfile(tx: Tx, userId: string, currency: string, interestRateBps: number): Promise<LockedProfile> {
  const rows = await tx.$queryRaw<LockedProfile[]>`
    INSERT INTO credit_profiles ${NEW_PROFILE_COLUMNS}
    VALUES (${newProfileValues(Prisma.sql`${userId}`, Prisma.sql`${currency}`, Prisma.sql`${interestRateBps}`)})
    ON CONFLICT (user_id) DO UPDATE SET updated_at = credit_profiles.updated_at
    RETURNING ${PROFILE_COLUMNS}`;
  return rows[0]!;
}

/**
 * A locked deployment with its user's locked profile (null when another transaction holds it),
 * and whether an earlier acceptance of its user, outside the batch, is not final yet.
 */
export type LockedPair = LockedDeployment & { profile: LockedProfile | null; earlierPending: boolean };

/** The profile row `cp` (of credit_profiles, left-joined) as JSON, its amounts as text (exact at any size); null without one. */
const PROFILE_JSON = Prisma.sql`
    CASE WHEN cp.user_id IS NULL THEN NULL ELSE
      jsonb_build_object('userId', cp.user_id, 'limitCents', cp.limit_cents::text, 'usedCents', cp.used_cents::text, 'currency', cp.currency,
                         'version', cp.version, 'appliedAcceptanceSequence', cp.applied_acceptance_sequence) END`;

/** Whether an acceptance of `user` earlier than `sequence` (other than `except`'s) is not final yet. */
const earlierPending = (user: Prisma.Sql, sequence: Prisma.Sql, except: Prisma.Sql = Prisma.empty) => Prisma.sql`
    EXISTS (SELECT 1 FROM credit_deployments e
             WHERE e.user_id = ${user} AND coalesce(e.acceptance_sequence, 0) < ${sequence}
               AND e.status::text NOT IN (${Prisma.join(FINAL_STATUSES)}) ${except})`;

/**
 * Whether a term of the credit line's lifecycle touches the acceptance `sequence` of `user`: a
 * temporary offer (`offerTemporary`), a temporary or decreased profile (`cp`), a change scheduled
 * before it that the acceptance would cancel.
 */
const lifecycle = (offerTemporary: Prisma.Sql, user: Prisma.Sql, sequence: Prisma.Sql) => Prisma.sql`
    (${offerTemporary} OR cp.temporary_until IS NOT NULL OR cp.permanent_limit_cents IS NOT NULL
     OR EXISTS (SELECT 1 FROM limit_changes lc WHERE lc.user_id = ${user} AND lc.status = 'SCHEDULED' AND lc.decision_sequence < ${sequence}))`;

/**
 * As lockDeployment and lockProfile, for several deployments at once, in one statement: rows
 * another transaction holds are skipped, not waited for (a deployment held elsewhere is not
 * returned; a profile held elsewhere comes back null). A profile being created by another
 * transaction is waited for and then comes back null too (this statement's snapshot predates it).
 */
export async function lockFreeRows(tx: Tx, ids: readonly string[]): Promise<LockedPair[]> {
  const rows = await tx.$queryRaw<(LockedDeployment & { profile: Record<string, unknown> | null; earlierPending: boolean })[]>`
    WITH locked AS (
      SELECT ${DEPLOYMENT_COLUMNS} FROM ${DEPLOYMENT_ROWS} WHERE d.id = ANY(${ids}::uuid[]) FOR UPDATE OF d SKIP LOCKED),
    wanted AS (
      -- The profile a user's deployment may apply to: for the user's earliest acceptance here, in
      -- its currency, and only when no earlier one is pending elsewhere (a deployment that waits
      -- creates no empty profile, which a usage sync could then write to).
      SELECT DISTINCT ON ("userId") "userId" AS user_id, currency, "interestRateBps" AS rate
        FROM locked l WHERE status NOT IN (${Prisma.join(FINAL_STATUSES)})
         AND NOT ${earlierPending(Prisma.sql`l."userId"`, Prisma.sql`l."acceptanceSequence"`, Prisma.sql`AND e.id <> ALL(${ids}::uuid[])`)}
       ORDER BY "userId", "acceptanceSequence"),
    created AS (
      INSERT INTO credit_profiles ${NEW_PROFILE_COLUMNS}
      SELECT ${newProfileValues(Prisma.sql`user_id`, Prisma.sql`currency`, Prisma.sql`rate`)} FROM wanted ORDER BY user_id
      ON CONFLICT (user_id) DO NOTHING
      RETURNING ${PROFILE_COLUMNS}),
    existing AS (
      SELECT ${PROFILE_COLUMNS} FROM credit_profiles WHERE user_id IN (SELECT user_id FROM wanted) FOR UPDATE SKIP LOCKED),
    profiles AS (SELECT * FROM created UNION ALL SELECT * FROM existing)
    SELECT locked.*, CASE WHEN p."userId" IS NULL THEN NULL ELSE
             jsonb_build_object('userId', p."userId", 'limitCents', p."limitCents"::text, 'usedCents', p."usedCents"::text, 'currency', p.currency,
                                'version', p.version, 'appliedAcceptanceSequence', p."appliedAcceptanceSequence") END AS profile,
           ${earlierPending(Prisma.sql`locked."userId"`, Prisma.sql`locked."acceptanceSequence"`, Prisma.sql`AND e.id <> ALL(${ids}::uuid[])`)} AS "earlierPending"
      FROM locked LEFT JOIN profiles p ON p."userId" = locked."userId"`;
  return rows.map(({ profile, ...deployment }) => ({ ...deployment, profile: profile && profileFromJson(profile) }));
}

const amount = z.string().regex(/^-?\d+$/).transform(BigInt);

/** A profile row as JSON (its amounts as text: exact at any size), as statements read it and job data carries it. */
const profileJson = z.object({
  userId: z.string(),
  limitCents: amount,
  usedCents: amount,
  currency: z.string(),
  version: z.number().int(),
  appliedAcceptanceSequence: z.number().int(),
});

function profileFromJson(profile: Record<string, unknown>): LockedProfile {
  return profileJson.parse(profile);
}

/**
 * A deployment of a batch as read without a lock (readRows), for the apply in one statement
 * (apply-in-one-statement.ts): its profile as it was (null when none exists yet), and whether
 * anything of the credit line's lifecycle touches it (a temporary offer or profile, a scheduled
 * change the acceptance would cancel), which only the locked apply writes.
 */
export type ReadPair = LockedDeployment & {
  lastSequence: number;
  profile: LockedProfile | null;
  earlierPending: boolean;
  lifecycle: boolean;
};

/** The deployments and their users' profiles, read in one statement, locking nothing (the hot path: through pg). */
export async function readRows(ids: readonly string[], batch: readonly string[] = ids): Promise<ReadPair[]> {
  const sequence = Prisma.sql`coalesce(d.acceptance_sequence, 0)`;
  const rows = await hotQuery<Omit<ReadPair, 'profile'> & { profile: Record<string, unknown> | null }>('read batch', Prisma.sql`
    SELECT ${DEPLOYMENT_COLUMNS}, d.last_sequence AS "lastSequence", ${PROFILE_JSON} AS profile,
           ${earlierPending(Prisma.sql`d.user_id`, sequence, Prisma.sql`AND e.id <> ALL(${batch}::uuid[])`)} AS "earlierPending",
           ${lifecycle(Prisma.sql`o.temporary_until IS NOT NULL`, Prisma.sql`d.user_id`, sequence)} AS lifecycle
      FROM ${DEPLOYMENT_ROWS} LEFT JOIN credit_profiles cp ON cp.user_id = d.user_id
     WHERE d.id = ANY(${ids}::uuid[])`);
  return rows.map(({ profile, ...deployment }) => ({ ...deployment, profile: profile && profileFromJson(profile) }));
}

/**
 * The columns that an accept's statement (offers.ts) adds to its result to read, for the new
 * deployment `d` and the acceptance sequence `u.sequence` it took, what readRows reads: the
 * user's profile (`cp`, left-joined by the caller), whether an earlier acceptance of theirs is
 * pending, and whether a lifecycle term touches it. `readFresh` is false when another decision of
 * the user took a sequence between this statement's snapshot and its lock on the user's row (the
 * read could have missed that decision's deployment): such a read is not carried.
 */
export function readAtAcceptance(offerTemporary: boolean): Prisma.Sql {
  const user = Prisma.sql`d.user_id`;
  const sequence = Prisma.sql`u.sequence`;
  return Prisma.sql`
    ${PROFILE_JSON} AS "readProfile",
    ${earlierPending(user, sequence)} AS "readEarlierPending",
    ${lifecycle(Prisma.sql`${offerTemporary}`, user, sequence)} AS "readLifecycle",
    (SELECT last_acceptance_sequence + 1 FROM users WHERE id = ${user}) = ${sequence} AS "readFresh"`;
}

/** What readAtAcceptance's columns hold, with the user's language after the accept (its own statement stores it). */
export interface ReadAtAcceptance {
  readProfile: Record<string, unknown> | null;
  readEarlierPending: boolean;
  readLifecycle: boolean;
  readFresh: boolean;
  readLocale: string | null;
}

/** The ReadPair of a deployment its accept just created (QUEUED, sequence 1, offer ACCEPTED); null when the read is not fresh. */
export function readPairAtAcceptance(
  deployment: Pick<LockedDeployment, 'id' | 'offerId' | 'userId' | 'correlationId' | 'currency' | 'newLimitCents' | 'queuedAt'> & { acceptanceSequence: number | null },
  interestRateBps: number,
  read: ReadAtAcceptance,
): ReadPair | null {
  if (!read.readFresh) return null;
  const { id, offerId, userId, correlationId, currency, newLimitCents, queuedAt } = deployment;
  return {
    id, offerId, userId, correlationId, currency, newLimitCents, queuedAt, interestRateBps,
    status: 'QUEUED',
    offerStatus: 'ACCEPTED',
    acceptanceSequence: deployment.acceptanceSequence ?? 0,
    locale: read.readLocale,
    lastSequence: 1,
    profile: read.readProfile && profileFromJson(read.readProfile),
    earlierPending: read.readEarlierPending,
    lifecycle: read.readLifecycle,
  };
}

/** A ReadPair as job data carries it (JSON: amounts as text, times as ISO strings). */
const readPairJson = z.object({
  id: z.string(),
  status: z.enum(CreditDeploymentStatus),
  offerId: z.string(),
  userId: z.string(),
  correlationId: z.string(),
  currency: z.string(),
  newLimitCents: amount,
  queuedAt: z.iso.datetime().transform((at) => new Date(at)),
  offerStatus: z.string(),
  interestRateBps: z.number().int(),
  acceptanceSequence: z.number().int(),
  locale: z.string().nullable(),
  lastSequence: z.number().int(),
  profile: profileJson.nullable(),
  earlierPending: z.boolean(),
  lifecycle: z.boolean(),
});

export type ReadPairJson = z.input<typeof readPairJson>;

/** A ReadPair as JSON, for a job's data. */
export function readPairToJson(pair: ReadPair): ReadPairJson {
  const { profile } = pair;
  return {
    ...pair,
    newLimitCents: pair.newLimitCents.toString(),
    queuedAt: pair.queuedAt.toISOString(),
    profile: profile && { ...profile, limitCents: profile.limitCents.toString(), usedCents: profile.usedCents.toString() },
  };
}

/** The ReadPair a job carries for `deploymentId`; null when it carries none, or one that does not hold together (then the worker reads). */
export function readPairFromJson(json: unknown, deploymentId: string): ReadPair | null {
  const parsed = readPairJson.safeParse(json);
  return parsed.success && parsed.data.id === deploymentId ? parsed.data : null;
}
