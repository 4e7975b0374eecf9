// The common apply in one round trip, with no transaction around it: the batch's rows are read
// without a lock (readRows, or the accept's own statement read them and the job carried the read:
// readAtAcceptance), the apply is decided on what was read, and one statement writes
// every deployment's apply at once, each only if its rows are still as they were read. A single
// statement is atomic on its own (autocommit): no BEGIN, no COMMIT, no row held across round
// trips. Per deployment the statement locks its row and its user's profile (skipping rows another
// transaction holds), checks that neither changed since the read (the deployment's last sequence,
// the profile's version; a new profile is inserted only if none appeared), and writes all of that
// deployment's rows or none: a deployment whose check fails is left to the locked apply
// (deployments.ts), which decides again under its locks.
//
// Only the common case comes here: a deployment whose turn it is, that is not refused, with no
// lifecycle term to record (a temporary offer or profile, a scheduled change to cancel).
// Anything else goes through the locked apply, which writes those in its transaction.
import { hotQuery, Prisma, type DeploymentEvent, type Notification } from '../platform/db.ts';
import { EVENT_COLUMNS } from './deployment-events.ts';
import { elapsedMs } from './deployment-failures.ts';
import type { ReadPair } from './deployment-locks.ts';
import { limitChangedByDeployments } from './downstream-events.ts';
import { deploymentLink, notificationText } from './notification-content.ts';
import { dedupeKeySql, NOTIFICATION_COLUMNS } from './notifications.ts';
import { newRowId } from './ids.ts';

/** What the statement applied: each deployment's events (oldest first) and notification. */
export interface AppliedInOne {
  events: DeploymentEvent[];
  notification: Notification | null;
}

/**
 * Applies the deployments read in `pairs` (each its user's only one here, its turn, not
 * refused, no lifecycle term) in one statement. Returns those it applied; the others changed
 * after the read (or their rows were held) and wrote nothing.
 */
export async function applyInOneStatement(pairs: readonly ReadPair[], now: Date, started: boolean): Promise<Map<string, AppliedInOne>> {
  const rows = pairs.map((d) => {
    const p = d.profile;
    const used = p?.usedCents ?? 0n;
    const { title, body } = notificationText('CREDIT_DEPLOYED', { cents: d.newLimitCents, currency: d.currency }, d.locale);
    return {
      id: d.id,
      userId: d.userId,
      offerId: d.offerId,
      status: d.status,
      lastSequence: d.lastSequence,
      // -1: no profile was there; one is created by this statement only if none appeared since.
      profileVersion: p ? p.version : -1,
      currency: d.currency,
      limitCents: d.newLimitCents.toString(),
      availableCents: (d.newLimitCents > used ? d.newLimitCents - used : 0n).toString(),
      usedCents: used.toString(),
      rate: d.interestRateBps,
      acceptanceSequence: d.acceptanceSequence,
      previousLimitCents: (p?.limitCents ?? 0n).toString(),
      // No credit line before: a profile missing or created empty (version 0).
      eventPreviousLimitCents: p && p.version > 0 ? p.limitCents.toString() : null,
      processingMs: elapsedMs(d.queuedAt, now),
      correlationId: d.correlationId,
      outboxId: newRowId(),
      title,
      body,
      deepLink: deploymentLink(d.id),
    };
  });
  const column = <K extends keyof (typeof rows)[number]>(key: K) => rows.map((row) => row[key]);
  const steps = started ? 2 : 3;
  const start = started ? Prisma.empty : Prisma.sql`, attempts = cd.attempts + 1, started_at = coalesce(cd.started_at, ${now})`;
  const startEvent = started
    ? Prisma.empty
    : Prisma.sql`SELECT i.id, d.last_sequence - 2, 'PROCESSING_STARTED', 'PROCESSING'::credit_deployment_status, i.correlation_id, NULL::jsonb
        FROM input i JOIN d ON d.id = i.id
      UNION ALL`;
  const applied = await hotQuery<DeploymentEvent & { notification: Notification | null }>('apply in one statement', Prisma.sql`
    WITH given AS (
      SELECT * FROM unnest(${column('id')}::uuid[], ${column('userId')}::text[], ${column('offerId')}::uuid[], ${column('status')}::text[],
                           ${column('lastSequence')}::int[], ${column('profileVersion')}::int[], ${column('currency')}::text[],
                           ${column('limitCents')}::bigint[], ${column('availableCents')}::bigint[], ${column('usedCents')}::bigint[],
                           ${column('rate')}::int[], ${column('acceptanceSequence')}::int[], ${column('previousLimitCents')}::bigint[],
                           ${column('eventPreviousLimitCents')}::bigint[], ${column('processingMs')}::int[], ${column('correlationId')}::text[],
                           ${column('outboxId')}::uuid[], ${column('title')}::text[], ${column('body')}::text[], ${column('deepLink')}::text[])
        AS i(id, user_id, offer_id, status, last_sequence, profile_version, currency, limit_cents, available_cents, used_cents, rate,
             acceptance_sequence, previous_limit_cents, event_previous_limit_cents, processing_ms, correlation_id, outbox_id,
             title, body, deep_link)),
    -- The deployments still as read, locked (one held elsewhere is skipped: it goes to the locked apply).
    held AS (
      SELECT cd.id FROM credit_deployments cd JOIN given g ON g.id = cd.id
       WHERE cd.status::text = g.status AND cd.last_sequence = g.last_sequence
         AND EXISTS (SELECT 1 FROM credit_offers co WHERE co.id = g.offer_id AND co.status = 'ACCEPTED')
         FOR UPDATE OF cd SKIP LOCKED),
    -- Their users' profiles still at the version read, locked.
    held_profiles AS (
      SELECT cp.user_id FROM credit_profiles cp JOIN given g ON g.user_id = cp.user_id
       WHERE g.id IN (SELECT id FROM held) AND cp.version = g.profile_version
         FOR UPDATE OF cp SKIP LOCKED),
    raised AS (
      UPDATE credit_profiles cp SET currency = g.currency, limit_cents = g.limit_cents, available_cents = g.available_cents,
             interest_rate_bps = g.rate, version = cp.version + 1, last_limit_change_at = ${now}, updated_at = ${now},
             applied_acceptance_sequence = g.acceptance_sequence
        FROM given g
       WHERE cp.user_id = g.user_id AND g.user_id IN (SELECT user_id FROM held_profiles) AND cp.version = g.profile_version
      RETURNING cp.user_id, cp.version),
    -- A user's first profile, unless one appeared since the read (then nothing: the locked apply decides).
    created AS (
      INSERT INTO credit_profiles (user_id, currency, limit_cents, used_cents, available_cents, interest_rate_bps, version, updated_at,
                                   last_limit_change_at, applied_acceptance_sequence)
      SELECT g.user_id, g.currency, g.limit_cents, 0, g.available_cents, g.rate, 1, ${now}, ${now}, g.acceptance_sequence
        FROM given g WHERE g.profile_version = -1 AND g.id IN (SELECT id FROM held)
      ON CONFLICT (user_id) DO NOTHING
      RETURNING user_id, version),
    -- What applies: every write below is of these deployments only.
    input AS (
      SELECT g.*, p.version AS profile_new_version
        FROM given g JOIN (SELECT * FROM raised UNION ALL SELECT * FROM created) p ON p.user_id = g.user_id
       WHERE g.id IN (SELECT id FROM held)),
    o AS (UPDATE credit_offers SET status = 'DEPLOYED' WHERE id IN (SELECT offer_id FROM input)),
    d AS (
      UPDATE credit_deployments cd SET status = 'DEPLOYED', last_sequence = cd.last_sequence + ${steps}, previous_limit_cents = i.previous_limit_cents,
             completed_at = ${now}, processing_ms = i.processing_ms ${start}
        FROM input i WHERE cd.id = i.id RETURNING cd.id, cd.last_sequence),
    ${limitChangedByDeployments(now)},
    history AS (
      INSERT INTO credit_line_changes (id, user_id, at, reason, change_type, currency, previous_limit_cents, new_limit_cents, available_cents, deployment_id)
      SELECT i.id, i.user_id, ${now}, 'OFFER_ACCEPTED', 'INCREASE', i.currency, i.event_previous_limit_cents, i.limit_cents, i.available_cents, i.id
        FROM input i
      ON CONFLICT (id) DO NOTHING),
    notified AS (
      INSERT INTO notifications (id, user_id, kind, title, body, deep_link, dedupe_key, deployment_id, correlation_id)
      SELECT uuid_v7(), i.user_id, 'CREDIT_DEPLOYED', i.title, i.body, i.deep_link, ${dedupeKeySql(Prisma.sql`'CREDIT_DEPLOYED:' || i.id`)}, i.id, i.correlation_id
        FROM input i
      ON CONFLICT (dedupe_key) DO NOTHING
      RETURNING ${NOTIFICATION_COLUMNS}),
    trail AS (
      INSERT INTO deployment_events (deployment_id, sequence, type, status, correlation_id, detail)
      ${startEvent}
      SELECT i.id, d.last_sequence - 1, 'PROFILE_UPDATED', 'PROCESSING'::credit_deployment_status, i.correlation_id,
             jsonb_build_object('previousLimitCents', i.previous_limit_cents::text, 'newLimitCents', i.limit_cents::text,
                                'availableCents', i.available_cents::text, 'interestRateBps', i.rate, 'profileVersion', i.profile_new_version)
        FROM input i JOIN d ON d.id = i.id
      UNION ALL
      SELECT i.id, d.last_sequence, 'DEPLOYED', 'DEPLOYED'::credit_deployment_status, i.correlation_id, NULL::jsonb
        FROM input i JOIN d ON d.id = i.id
      RETURNING ${EVENT_COLUMNS})
    SELECT t.*, CASE WHEN t.type = 'DEPLOYED' THEN (SELECT to_jsonb(n) FROM notified n WHERE n."deploymentId" = t."deploymentId") END AS notification
      FROM trail t`);
  const outcomes = new Map<string, AppliedInOne>();
  for (const { notification, ...event } of applied.sort((x, y) => x.sequence - y.sequence)) {
    const outcome = outcomes.get(event.deploymentId) ?? { events: [], notification: null };
    outcome.events.push(event);
    if (notification) outcome.notification = notificationFromJson(notification as unknown as Record<string, unknown>);
    outcomes.set(event.deploymentId, outcome);
  }
  return outcomes;
}

/** A notification row read back as JSON (its times as the UTC wall times the columns hold). */
function notificationFromJson(row: Record<string, unknown>): Notification {
  const time = (value: unknown) => (value == null ? null : new Date(`${String(value)}Z`));
  return { ...(row as unknown as Notification), createdAt: time(row.createdAt)!, pushDueAt: time(row.pushDueAt), pushSettledAt: time(row.pushSettledAt), acknowledgedAt: time(row.acknowledgedAt) };
}
