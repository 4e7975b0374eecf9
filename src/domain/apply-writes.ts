// The apply's one write statement: for every deployment of a batch at once, raises the profile,
// marks offer and deployment DEPLOYED, appends the deployment's audit events and the user's
// downstream event, while the transaction holds their rows.
import { Prisma, type DeploymentEvent, type Tx } from '../platform/db.ts';
import { limitChangedByDeployments } from './downstream-events.ts';
import { elapsedMs } from './deployment-failures.ts';
import { EVENT_COLUMNS } from './deployment-events.ts';
import type { LockedDeployment, LockedProfile } from './deployment-locks.ts';
import { newRowId } from './ids.ts';

/** A deployment whose offer applies: the locked rows and what the apply writes. */
export interface Applicable {
  deployment: LockedDeployment;
  profile: LockedProfile;
}

/**
 * Applies offers whose deployments and profiles this transaction holds, in one statement for all
 * of them: raises each profile, marks offers and deployments DEPLOYED, appends each deployment's
 * audit events (its PROCESSING_STARTED first when `started` is false) and each user's downstream
 * event. At most one deployment per user. Returns the events, oldest first per deployment.
 */
export async function writeApplied(tx: Tx, applicable: readonly Applicable[], now: Date, started: boolean): Promise<DeploymentEvent[]> {
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
    outboxId: newRowId(),
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
