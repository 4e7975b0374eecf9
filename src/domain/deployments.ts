// Applying an accepted offer to the user's credit profile: the steps of a deployment, each one
// transaction that also appends its audit events (and, at the end, creates the user's notification).
// Callers publish the returned events and enqueue the notification after commit.
import { prisma, Prisma, type CreditDeploymentStatus, type DeploymentEvent, type DeploymentFailureCode, type Notification, type Tx } from '../platform/db.ts';
import type { TransientFailureCode } from './transient-failures.ts';
import { randomUUID } from 'node:crypto';
import { limitChangedByDeployments } from './credit-events.ts';
import { countDeployed, countFailed, countRetries } from './deployment-metrics.ts';
import { appendEvent, EVENT_COLUMNS, FINAL_STATUSES, isFinal } from './deployment-events.ts';
import { formatMoney } from './money.ts';
import { notifyDeploymentEnd, notifyDeploymentEnds } from './notifications.ts';

interface LockedDeployment {
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

const LOCKED_DEPLOYMENT = Prisma.sql`
    d.id, d.status::text AS status, d.offer_id AS "offerId", d.user_id AS "userId",
    d.correlation_id AS "correlationId", d.currency, d.new_limit_cents AS "newLimitCents",
    d.queued_at AS "queuedAt", o.status::text AS "offerStatus", o.interest_rate_bps AS "interestRateBps",
    coalesce(d.acceptance_sequence, 0) AS "acceptanceSequence", u.locale`;

/**
 * Locks the deployment's row for the rest of the transaction (one step at a time per
 * deployment) and reads its offer's terms and its user's language with it.
 */
async function lockDeployment(tx: Tx, id: string): Promise<LockedDeployment | null> {
  const rows = await tx.$queryRaw<LockedDeployment[]>`
    SELECT ${LOCKED_DEPLOYMENT}
      FROM credit_deployments d JOIN credit_offers o ON o.id = d.offer_id JOIN users u ON u.id = d.user_id
     WHERE d.id = ${id}::uuid FOR UPDATE OF d`;
  return rows[0] ?? null;
}

const elapsedMs = (from: Date, to: Date) => Math.max(0, to.getTime() - from.getTime());

/** Marks an attempt as started. Null when the deployment is already final (or unknown). */
export async function startAttempt(id: string, now = new Date(), db: Pick<Tx, '$queryRaw'> = prisma): Promise<DeploymentEvent | null> {
  const rows = await db.$queryRaw<DeploymentEvent[]>`
    WITH u AS (
      UPDATE credit_deployments SET attempts = attempts + 1, started_at = coalesce(started_at, ${now}),
             status = 'PROCESSING', last_sequence = last_sequence + 1
       WHERE id = ${id}::uuid AND status::text NOT IN (${Prisma.join(FINAL_STATUSES)})
      RETURNING id, last_sequence, correlation_id)
    INSERT INTO deployment_events (deployment_id, sequence, type, status, correlation_id)
    SELECT id, last_sequence, 'PROCESSING_STARTED', 'PROCESSING'::credit_deployment_status, correlation_id FROM u
    RETURNING ${EVENT_COLUMNS}`;
  return rows[0] ?? null;
}

/** What ending a deployment committed: its audit events and the user's notification of it. */
export interface Ending {
  events: DeploymentEvent[];
  /** Null when the end already had its notification (a repeated run). */
  notification: Notification | null;
}

/** Why a deployment ends FAILED: the public code, and for ops (logs, the stored reason) what exactly. */
export interface Failure {
  code: DeploymentFailureCode;
  /** For ops, in English; customers read the text rendered from the code instead. */
  reason: string;
}

export type ApplyOutcome =
  | ({ kind: 'deployed'; processingMs: number } & Ending)
  | ({ kind: 'failed' } & Failure & Ending)
  | { kind: 'already-final'; events: []; notification: null };

/** What the refusal rules read of a deployment and of its user's profile. */
export type RefusalInput = [
  profile: Pick<LockedProfile, 'limitCents' | 'usedCents' | 'currency' | 'appliedAcceptanceSequence'>,
  deployment: Pick<LockedDeployment, 'offerStatus' | 'acceptanceSequence' | 'currency' | 'newLimitCents'>,
];

/** Why the offer cannot be applied, or null when it can. Permanent: retrying cannot change it. */
export function refusal(...[profile, deployment]: RefusalInput): Failure | null {
  if (deployment.offerStatus !== 'ACCEPTED') {
    return { code: 'OFFER_NOT_VALID', reason: `the offer is no longer valid (it is ${deployment.offerStatus})` };
  }
  if (deployment.acceptanceSequence < profile.appliedAcceptanceSequence) {
    return {
      code: 'SUPERSEDED',
      reason: `acceptance ${deployment.acceptanceSequence} reached the worker after acceptance ${profile.appliedAcceptanceSequence} was applied`,
    };
  }
  // Whenever a profile exists, an empty one too: usage may have been synced onto it in its currency.
  if (profile.currency !== deployment.currency) {
    return { code: 'CURRENCY_MISMATCH', reason: `the offer is in ${deployment.currency} but the credit profile is in ${profile.currency}` };
  }
  if (deployment.newLimitCents < profile.usedCents) {
    const limit = formatMoney({ cents: deployment.newLimitCents, currency: deployment.currency });
    const used = formatMoney({ cents: profile.usedCents, currency: profile.currency });
    return { code: 'LIMIT_BELOW_USAGE', reason: `the offered limit ${limit} is below the credit in use ${used}` };
  }
  return null;
}

interface LockedProfile {
  userId: string;
  limitCents: bigint;
  usedCents: bigint;
  currency: string;
  version: number;
  /** The acceptance whose terms the profile holds. */
  appliedAcceptanceSequence: number;
}

/** The user's profile, created empty on the first deployment, locked for the transaction. */
async function lockProfile(tx: Tx, userId: string, currency: string, interestRateBps: number): Promise<LockedProfile> {
  const rows = await tx.$queryRaw<LockedProfile[]>`
    INSERT INTO credit_profiles (user_id, currency, limit_cents, used_cents, available_cents, interest_rate_bps, version, updated_at)
    VALUES (${userId}, ${currency}, 0, 0, 0, ${interestRateBps}, 0, now())
    ON CONFLICT (user_id) DO UPDATE SET updated_at = credit_profiles.updated_at
    RETURNING ${PROFILE_COLUMNS}`;
  return rows[0]!;
}

const PROFILE_COLUMNS = Prisma.sql`user_id AS "userId", limit_cents AS "limitCents", used_cents AS "usedCents", currency, version,
              applied_acceptance_sequence AS "appliedAcceptanceSequence"`;

/**
 * A locked deployment with its user's locked profile (null when another transaction holds it),
 * and whether an earlier acceptance of its user, outside the batch, is not final yet.
 */
type LockedPair = LockedDeployment & { profile: LockedProfile | null; earlierPending: boolean };

/**
 * As lockDeployment and lockProfile, for several deployments at once, in one statement: rows
 * another transaction holds are skipped, not waited for (a deployment held elsewhere is not
 * returned; a profile held elsewhere comes back null). A profile being created by another
 * transaction is waited for and then comes back null too (this statement's snapshot predates it).
 */
async function lockFreeRows(tx: Tx, ids: readonly string[]): Promise<LockedPair[]> {
  const rows = await tx.$queryRaw<(LockedDeployment & { profile: Record<string, unknown> | null; earlierPending: boolean })[]>`
    WITH locked AS (
      SELECT ${LOCKED_DEPLOYMENT}
        FROM credit_deployments d JOIN credit_offers o ON o.id = d.offer_id JOIN users u ON u.id = d.user_id
       WHERE d.id = ANY(${ids}::uuid[]) FOR UPDATE OF d SKIP LOCKED),
    wanted AS (
      -- The profile a user's deployment may apply to: for the user's earliest acceptance here, in
      -- its currency, and only when no earlier one is pending elsewhere (a deployment that waits
      -- creates no empty profile, which a usage sync could then write to).
      SELECT DISTINCT ON ("userId") "userId" AS user_id, currency, "interestRateBps" AS rate
        FROM locked l WHERE status NOT IN (${Prisma.join(FINAL_STATUSES)})
         AND NOT EXISTS (SELECT 1 FROM credit_deployments e
                          WHERE e.user_id = l."userId" AND coalesce(e.acceptance_sequence, 0) < l."acceptanceSequence"
                            AND e.status::text NOT IN (${Prisma.join(FINAL_STATUSES)}) AND e.id <> ALL(${ids}::uuid[]))
       ORDER BY "userId", "acceptanceSequence"),
    created AS (
      INSERT INTO credit_profiles (user_id, currency, limit_cents, used_cents, available_cents, interest_rate_bps, version, updated_at)
      SELECT user_id, currency, 0, 0, 0, rate, 0, now() FROM wanted ORDER BY user_id
      ON CONFLICT (user_id) DO NOTHING
      RETURNING ${PROFILE_COLUMNS}),
    existing AS (
      SELECT ${PROFILE_COLUMNS} FROM credit_profiles WHERE user_id IN (SELECT user_id FROM wanted) FOR UPDATE SKIP LOCKED),
    profiles AS (SELECT * FROM created UNION ALL SELECT * FROM existing)
    SELECT locked.*, CASE WHEN p."userId" IS NULL THEN NULL ELSE
             jsonb_build_object('userId', p."userId", 'limitCents', p."limitCents"::text, 'usedCents', p."usedCents"::text, 'currency', p.currency,
                                'version', p.version, 'appliedAcceptanceSequence', p."appliedAcceptanceSequence") END AS profile,
           EXISTS (SELECT 1 FROM credit_deployments e
                    WHERE e.user_id = locked."userId" AND coalesce(e.acceptance_sequence, 0) < locked."acceptanceSequence"
                      AND e.status::text NOT IN (${Prisma.join(FINAL_STATUSES)}) AND e.id <> ALL(${ids}::uuid[])) AS "earlierPending"
      FROM locked LEFT JOIN profiles p ON p."userId" = locked."userId"`;
  return rows.map(({ profile, ...deployment }) => ({
    ...deployment,
    profile: profile && {
      userId: String(profile.userId),
      limitCents: BigInt(profile.limitCents as string),
      usedCents: BigInt(profile.usedCents as string),
      currency: String(profile.currency),
      version: Number(profile.version),
      appliedAcceptanceSequence: Number(profile.appliedAcceptanceSequence),
    },
  }));
}

/** A deployment whose offer applies: the locked rows and what the apply writes. */
interface Applicable {
  deployment: LockedDeployment;
  profile: LockedProfile;
}

/**
 * Applies offers whose deployments and profiles this transaction holds, in one statement for all
 * of them: raises each profile, marks offers and deployments DEPLOYED, appends each deployment's
 * audit events (its PROCESSING_STARTED first when `started` is false) and each user's downstream
 * event. At most one deployment per user. Returns the events, oldest first per deployment.
 */
async function writeApplied(tx: Tx, applicable: readonly Applicable[], now: Date, started: boolean): Promise<DeploymentEvent[]> {
  const rows = applicable.map(({ deployment: d, profile: p }) => ({
    id: d.id,
    userId: d.userId,
    offerId: d.offerId,
    currency: d.currency,
    limitCents: d.newLimitCents.toString(),
    availableCents: (d.newLimitCents > p.usedCents ? d.newLimitCents - p.usedCents : 0n).toString(),
    usedCents: p.usedCents.toString(),
    rate: d.interestRateBps,
    acceptanceSequence: d.acceptanceSequence,
    previousLimitCents: p.limitCents.toString(),
    // A profile at version 0 was created empty by this transaction: there was no credit line before.
    eventPreviousLimitCents: p.version === 0 ? null : p.limitCents.toString(),
    processingMs: elapsedMs(d.queuedAt, now),
    correlationId: d.correlationId,
    outboxId: randomUUID(),
  }));
  const column = <K extends keyof (typeof rows)[number]>(key: K) => rows.map((row) => row[key]);
  const steps = started ? 2 : 3;
  const start = started
    ? Prisma.empty
    : Prisma.sql`, attempts = cd.attempts + 1, started_at = coalesce(cd.started_at, ${now})`;
  const startEvent = started
    ? Prisma.empty
    : Prisma.sql`SELECT i.id, d.last_sequence - 2, 'PROCESSING_STARTED', 'PROCESSING'::credit_deployment_status, i.correlation_id, NULL::jsonb
        FROM input i JOIN d ON d.id = i.id
      UNION ALL`;
  // All the writes in one statement, the downstream events' too: one round trip while the rows are locked.
  const events = await tx.$queryRaw<DeploymentEvent[]>`
    WITH input AS (
      SELECT * FROM unnest(${column('id')}::uuid[], ${column('userId')}::text[], ${column('offerId')}::uuid[], ${column('currency')}::text[],
                           ${column('limitCents')}::bigint[], ${column('availableCents')}::bigint[], ${column('usedCents')}::bigint[],
                           ${column('rate')}::int[], ${column('acceptanceSequence')}::int[], ${column('previousLimitCents')}::bigint[],
                           ${column('eventPreviousLimitCents')}::bigint[], ${column('processingMs')}::int[], ${column('correlationId')}::text[],
                           ${column('outboxId')}::uuid[])
        AS i(id, user_id, offer_id, currency, limit_cents, available_cents, used_cents, rate, acceptance_sequence, previous_limit_cents,
             event_previous_limit_cents, processing_ms, correlation_id, outbox_id)),
    p AS (
      UPDATE credit_profiles cp SET currency = i.currency, limit_cents = i.limit_cents, available_cents = i.available_cents,
             interest_rate_bps = i.rate, version = cp.version + 1, last_limit_change_at = ${now}, updated_at = ${now},
             applied_acceptance_sequence = i.acceptance_sequence
        FROM input i WHERE cp.user_id = i.user_id RETURNING cp.user_id, cp.version),
    o AS (UPDATE credit_offers SET status = 'DEPLOYED' WHERE id IN (SELECT offer_id FROM input)),
    d AS (
      UPDATE credit_deployments cd SET status = 'DEPLOYED', last_sequence = cd.last_sequence + ${steps}, previous_limit_cents = i.previous_limit_cents,
             completed_at = ${now}, processing_ms = i.processing_ms ${start}
        FROM input i WHERE cd.id = i.id RETURNING cd.id, cd.last_sequence),
    ${limitChangedByDeployments(now)}
    INSERT INTO deployment_events (deployment_id, sequence, type, status, correlation_id, detail)
    ${startEvent}
    SELECT i.id, d.last_sequence - 1, 'PROFILE_UPDATED', 'PROCESSING'::credit_deployment_status, i.correlation_id,
           jsonb_build_object('previousLimitCents', i.previous_limit_cents::text, 'newLimitCents', i.limit_cents::text,
                              'availableCents', i.available_cents::text, 'interestRateBps', i.rate, 'profileVersion', p.version)
      FROM input i JOIN d ON d.id = i.id JOIN p ON p.user_id = i.user_id
    UNION ALL
    SELECT i.id, d.last_sequence, 'DEPLOYED', 'DEPLOYED'::credit_deployment_status, i.correlation_id, NULL::jsonb
      FROM input i JOIN d ON d.id = i.id
    RETURNING ${EVENT_COLUMNS}`;
  return events.sort((x, y) => (x.deploymentId === y.deploymentId ? x.sequence - y.sequence : x.deploymentId < y.deploymentId ? -1 : 1));
}

/** What one deployment of a batch came to. */
export type BatchOutcome =
  | ApplyOutcome
  /** Not applied by this batch: its rows were held by another transaction; apply it alone (it waits for them). */
  | { kind: 'skipped' }
  /**
   * Not applied by this batch, not its turn yet: its user's profile was held by another
   * transaction (perhaps another batch), or an earlier acceptance of its user is not final yet.
   */
  | { kind: 'not-yet' }
  /** Not applied by this batch: an earlier acceptance of its user is applied first; put it in the next batch. */
  | { kind: 'deferred' };

export interface BatchOptions {
  now?: Date;
  /** Whether the deployments' attempts were started (startAttempt) already; if not, the batch starts them. */
  started?: boolean;
  /** Wait for rows another transaction holds (one deployment applied alone) instead of skipping them. */
  wait?: boolean;
}

/**
 * Applies accepted offers, several deployments in one transaction. Each keeps its own audit
 * events and sequence, downstream event and notification; each user's deployments apply in
 * acceptance order (one per user per batch, the earliest; the others come back `deferred`).
 * A deployment whose rows another transaction holds does not wait: it comes back `skipped`.
 * Running it again on a final deployment changes nothing: the effect happens exactly once.
 */
export async function applyDeployments(ids: readonly string[], options: BatchOptions = {}): Promise<Map<string, BatchOutcome>> {
  const now = options.now ?? new Date();
  const outcomes = await prisma.$transaction((tx) => applyInTransaction(tx, ids, now, options));
  for (const outcome of outcomes.values()) {
    if (outcome.kind === 'deployed') countDeployed(outcome.processingMs);
    if (outcome.kind === 'failed') countFailed(outcome.code);
  }
  return outcomes;
}

/**
 * Applies the offer of one deployment whose attempt was started, waiting for its rows. Running
 * it again on a final deployment changes nothing.
 */
export async function applyCreditOffer(id: string, now = new Date()): Promise<ApplyOutcome> {
  const outcome = (await applyDeployments([id], { now, started: true, wait: true })).get(id)!;
  if (outcome.kind === 'skipped' || outcome.kind === 'deferred' || outcome.kind === 'not-yet') {
    throw new Error(`unexpected ${outcome.kind} of a deployment applied alone`);
  }
  return outcome;
}

interface Locked {
  deployments: LockedDeployment[];
  profiles: Map<string, LockedProfile>;
  /** Deployments of users with an earlier acceptance not final yet, outside this batch. */
  earlierPending: Set<string>;
}

async function lockAll(tx: Tx, ids: readonly string[], wait: boolean): Promise<Locked> {
  if (!wait) {
    const pairs = await lockFreeRows(tx, ids);
    return {
      deployments: pairs,
      profiles: new Map(pairs.flatMap((pair) => (pair.profile ? [[pair.userId, pair.profile] as const] : []))),
      earlierPending: new Set(pairs.filter((pair) => pair.earlierPending).map((pair) => pair.id)),
    };
  }
  const deployments: LockedDeployment[] = [];
  const profiles = new Map<string, LockedProfile>();
  for (const id of ids) {
    const deployment = await lockDeployment(tx, id);
    if (!deployment) continue;
    deployments.push(deployment);
    if (isFinal(deployment.status) || profiles.has(deployment.userId)) continue;
    profiles.set(deployment.userId, await lockProfile(tx, deployment.userId, deployment.currency, deployment.interestRateBps));
  }
  // Alone, a deployment waits for nothing but its rows: an older acceptance applied after it ends SUPERSEDED.
  return { deployments, profiles, earlierPending: new Set() };
}

async function applyInTransaction(tx: Tx, ids: readonly string[], now: Date, options: BatchOptions): Promise<Map<string, BatchOutcome>> {
  const started = options.started ?? false;
  const outcomes = new Map<string, BatchOutcome>(ids.map((id) => [id, options.wait ? ALREADY_FINAL : { kind: 'skipped' }]));
  const { deployments, profiles, earlierPending } = await lockAll(tx, ids, options.wait ?? false);
  // Each user's earliest acceptance in the batch; the user's later ones wait for the next batch.
  const earliest = new Map<string, LockedDeployment>();
  for (const deployment of deployments) {
    if (isFinal(deployment.status)) {
      outcomes.set(deployment.id, ALREADY_FINAL);
      continue;
    }
    const known = earliest.get(deployment.userId);
    if (!known || deployment.acceptanceSequence < known.acceptanceSequence) earliest.set(deployment.userId, deployment);
  }
  const applicable: Applicable[] = [];
  for (const deployment of deployments) {
    if (isFinal(deployment.status)) continue;
    const profile = profiles.get(deployment.userId);
    if (earliest.get(deployment.userId) !== deployment) outcomes.set(deployment.id, { kind: 'deferred' });
    else if (!profile || earlierPending.has(deployment.id)) outcomes.set(deployment.id, { kind: 'not-yet' });
    else {
      const refused = refusal(profile, deployment);
      if (!refused) applicable.push({ deployment, profile });
      else {
        const startEvent = started ? [] : [await startAttempt(deployment.id, now, tx)];
        const ending = await recordFailure(tx, deployment, refused, now);
        outcomes.set(deployment.id, { kind: 'failed', ...refused, ...ending, events: [...startEvent.filter((e) => e !== null), ...ending.events] });
      }
    }
  }
  if (applicable.length === 0) return outcomes;
  const events = await writeApplied(tx, applicable, now, started);
  const notifications = await notifyDeploymentEnds(tx, applicable.map((a) => a.deployment), 'CREDIT_DEPLOYED');
  for (const { deployment } of applicable) {
    outcomes.set(deployment.id, {
      kind: 'deployed',
      processingMs: elapsedMs(deployment.queuedAt, now),
      events: events.filter((event) => event.deploymentId === deployment.id),
      notification: notifications.find((n) => n.deploymentId === deployment.id) ?? null,
    });
  }
  return outcomes;
}

const ALREADY_FINAL = { kind: 'already-final', events: [], notification: null } as const satisfies ApplyOutcome;

async function recordFailure(tx: Tx, deployment: LockedDeployment, failure: Failure, now: Date): Promise<Ending> {
  await tx.creditOffer.update({ where: { id: deployment.offerId }, data: { status: 'FAILED' } });
  const { event } = await appendEvent(tx, deployment, {
    type: 'FAILED',
    status: 'FAILED',
    detail: { code: failure.code },
    changes: { failureCode: failure.code, failureReason: failure.reason, completedAt: now, processingMs: elapsedMs(deployment.queuedAt, now) },
  });
  const notification = await notifyDeploymentEnd(tx, deployment, 'CREDIT_DEPLOYMENT_FAILED', failure.code);
  return { events: [event], notification };
}

/** Ends a deployment FAILED (no-op, null, when already final). */
export async function failDeployment(id: string, failure: Failure, now = new Date()): Promise<Ending | null> {
  const ending = await prisma.$transaction(async (tx) => {
    const deployment = await lockDeployment(tx, id);
    if (!deployment || isFinal(deployment.status)) return null;
    return recordFailure(tx, deployment, failure, now);
  });
  if (ending) countFailed(failure.code);
  return ending;
}

/** Why an operator's retry of this deployment's job must not run (it is final), or null. */
export async function retryRefusal(id: string): Promise<string | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  const deployment = await prisma.creditDeployment.findUnique({ where: { id }, select: { status: true } });
  return deployment && isFinal(deployment.status) ? `the deployment is already ${deployment.status}: a retry would change nothing` : null;
}

/** A failed attempt, as the worker saw it. */
export interface FailedAttempt {
  attempt: number;
  code: TransientFailureCode;
  /** When the next attempt starts after this one (public: the customer sees it). */
  retryInMs: number;
  /** It failed after the retry horizon: no retry; the deployment ends FAILED, RETRIES_EXHAUSTED. */
  pastHorizon: boolean;
}

export type AttemptFailureOutcome =
  | { kind: 'retrying'; events: DeploymentEvent[] }
  | ({ kind: 'exhausted' } & Failure & Ending)
  | { kind: 'already-final' };

/**
 * Records failed attempts: a RETRY_SCHEDULED event (RETRYING) for each, with its public code,
 * or, for the first that failed after the horizon, the end: FAILED with RETRIES_EXHAUSTED and
 * nothing applied. Several at once when attempts failed while the database was unreachable.
 */
export async function recordFailedAttempts(id: string, attempts: FailedAttempt[], now = new Date()): Promise<AttemptFailureOutcome> {
  const outcome = await recordFailedAttemptsInTransaction(id, attempts, now);
  if (outcome.kind === 'already-final') return outcome;
  const retries = outcome.events.filter((event) => event.type === 'RETRY_SCHEDULED');
  countRetries(retries.map((event) => String((event.detail as { code?: unknown } | null)?.code ?? 'UNKNOWN')));
  if (outcome.kind === 'exhausted') countFailed(outcome.code);
  return outcome;
}

function recordFailedAttemptsInTransaction(id: string, attempts: FailedAttempt[], now: Date): Promise<AttemptFailureOutcome> {
  return prisma.$transaction(async (tx) => {
    const deployment = await lockDeployment(tx, id);
    if (!deployment || isFinal(deployment.status)) return { kind: 'already-final' };
    // A job whose update failed after recording may bring the same attempts again: one event each.
    const recorded = await tx.$queryRaw<{ attempt: number }[]>`
      SELECT (detail->>'attempt')::int AS attempt FROM deployment_events WHERE deployment_id = ${id}::uuid AND type = 'RETRY_SCHEDULED'`;
    const known = new Set(recorded.map((r) => r.attempt));
    const events: DeploymentEvent[] = [];
    for (const failed of attempts) {
      if (known.has(failed.attempt)) continue;
      if (failed.pastHorizon) {
        const failure: Failure = {
          code: 'RETRIES_EXHAUSTED',
          reason: `transient trouble outlasted the retry horizon: attempt ${failed.attempt} failed with ${failed.code}`,
        };
        const ending = await recordFailure(tx, deployment, failure, now);
        return { kind: 'exhausted', ...failure, events: [...events, ...ending.events], notification: ending.notification };
      }
      const { event } = await appendEvent(tx, deployment, {
        type: 'RETRY_SCHEDULED',
        status: 'RETRYING',
        detail: { attempt: failed.attempt, code: failed.code, retryInMs: failed.retryInMs },
      });
      events.push(event);
    }
    return { kind: 'retrying', events };
  });
}

/** The newest audit event of a deployment. */
export function newestEvent(id: string): Promise<DeploymentEvent | null> {
  return prisma.deploymentEvent.findFirst({ where: { deploymentId: id }, orderBy: { sequence: 'desc' } });
}

/** Audit events after a sequence, oldest first. */
export function eventsAfter(id: string, sequence: number): Promise<DeploymentEvent[]> {
  return prisma.deploymentEvent.findMany({ where: { deploymentId: id, sequence: { gt: sequence } }, orderBy: { sequence: 'asc' } });
}
