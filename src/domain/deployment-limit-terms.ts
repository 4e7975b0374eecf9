// What an applied deployment means for the credit line's lifecycle, written in the apply's
// transaction right after its write statement (apply-writes.ts), in one more statement for the
// whole batch: the history row of the change (User.creditHistory, named by the deployment's id,
// the history id its credit.limit.changed carries); for a temporary offer, the permanent limit
// kept aside, the end time, and the scheduled TEMPORARY_END; and, the latest decision winning,
// the user's scheduled changes decided before this acceptance cancelled (a decrease or an earlier
// temporary end). Cancelled decreases tell their user (LIMIT_CHANGE_CANCELLED); those
// notifications reach delivery through the notification reconciler (they are PENDING).
import { Prisma, type Tx } from '../platform/db.ts';
import type { Applicable } from './apply-writes.ts';
import { isoText, storedEnvelope } from './downstream-events.ts';
import { dedupeKeySql } from './notifications.ts';
import { newRowId } from './ids.ts';

export async function recordDeploymentLimitTerms(tx: Tx, applicable: readonly Applicable[], now: Date): Promise<void> {
  if (applicable.length === 0) return;
  const rows = applicable.map(({ deployment: d, profile: p }) => ({
    id: d.id,
    userId: d.userId,
    offerId: d.offerId,
    sequence: d.acceptanceSequence,
    previous: p.limitCents.toString(),
    // No credit line before (a profile created by this apply).
    eventPrevious: p.version === 0 ? null : p.limitCents.toString(),
    correlationId: d.correlationId,
    endId: newRowId(),
  }));
  const column = <K extends keyof (typeof rows)[number]>(key: K) => rows.map((row) => row[key]);
  await tx.$executeRaw`
    WITH input AS (
      SELECT i.*, o.temporary_until FROM unnest(${column('id')}::uuid[], ${column('userId')}::text[], ${column('offerId')}::uuid[],
                                                ${column('sequence')}::int[], ${column('previous')}::bigint[], ${column('eventPrevious')}::bigint[],
                                                ${column('correlationId')}::text[], ${column('endId')}::uuid[])
               AS i(id, user_id, offer_id, sequence, previous, event_previous, correlation_id, end_id)
        JOIN credit_offers o ON o.id = i.offer_id),
    terms AS (
      UPDATE credit_profiles cp
         SET permanent_limit_cents = CASE WHEN i.temporary_until IS NULL THEN NULL ELSE coalesce(cp.permanent_limit_cents, i.previous) END,
             temporary_until = i.temporary_until
        FROM input i
       WHERE cp.user_id = i.user_id AND (i.temporary_until IS NOT NULL OR cp.temporary_until IS NOT NULL OR cp.permanent_limit_cents IS NOT NULL)
      RETURNING cp.user_id, cp.permanent_limit_cents, cp.currency),
    history AS (
      INSERT INTO credit_line_changes (id, user_id, at, reason, change_type, currency, previous_limit_cents, new_limit_cents, available_cents, deployment_id)
      SELECT i.id, i.user_id, ${now}, 'OFFER_ACCEPTED', CASE WHEN i.temporary_until IS NULL THEN 'INCREASE' ELSE 'TEMPORARY_START' END::limit_change_type,
             cp.currency, i.event_previous, cp.limit_cents, cp.available_cents, i.id
        FROM input i JOIN credit_profiles cp ON cp.user_id = i.user_id
      ON CONFLICT (id) DO NOTHING),
    superseded AS (
      UPDATE limit_changes lc SET status = 'CANCELLED', cancelled_at = ${now}
        FROM input i
       WHERE lc.id IN (SELECT s.id FROM limit_changes s, input j
                        WHERE s.user_id = j.user_id AND s.status = 'SCHEDULED' AND s.decision_sequence < j.sequence
                          FOR UPDATE OF s SKIP LOCKED)
         AND lc.user_id = i.user_id
      RETURNING lc.id, lc.user_id, lc.type, lc.currency, lc.new_limit_cents, i.correlation_id),
    superseded_trail AS (
      INSERT INTO limit_change_events (change_id, type, at, actor, correlation_id, detail)
      SELECT s.id, 'CANCELLED', ${now}, 'service', s.correlation_id,
             jsonb_build_object('because', 'SUPERSEDED', 'why', 'a later acceptance was applied')
        FROM superseded s),
    told AS (
      INSERT INTO notifications (id, user_id, kind, title, body, deep_link, dedupe_key, correlation_id)
      SELECT uuid_v7(), s.user_id, 'LIMIT_CHANGE_CANCELLED', t.title, t.body, 'app://credit/limit-changes/' || s.id, ${dedupeKeySql(Prisma.sql`'LIMIT_CHANGE_CANCELLED:' || s.id`)},
             s.correlation_id
        FROM superseded s JOIN users u ON u.id = s.user_id
             CROSS JOIN LATERAL (SELECT CASE WHEN lower(u.locale) LIKE 'en%' THEN ${CANCELLED.en.title} ELSE ${CANCELLED.pt.title} END AS title,
                                        CASE WHEN lower(u.locale) LIKE 'en%' THEN ${CANCELLED.en.body} ELSE ${CANCELLED.pt.body} END AS body) t
       WHERE s.type = 'DECREASE'
      ON CONFLICT (dedupe_key) DO NOTHING),
    ends AS (
      INSERT INTO limit_changes (id, user_id, type, status, currency, new_limit_cents, decision_sequence, effective_at, offer_id,
                                 requested_by, correlation_id, created_at)
      SELECT i.end_id, i.user_id, 'TEMPORARY_END', 'SCHEDULED', t.currency, t.permanent_limit_cents, i.sequence, i.temporary_until, i.offer_id,
             'service', i.correlation_id, ${now}
        FROM input i JOIN terms t ON t.user_id = i.user_id
       WHERE i.temporary_until IS NOT NULL
      RETURNING id, user_id, currency, new_limit_cents, effective_at, correlation_id),
    ends_trail AS (
      INSERT INTO limit_change_events (change_id, type, at, actor, correlation_id, detail)
      SELECT e.id, 'SCHEDULED', ${now}, 'service', e.correlation_id,
             jsonb_build_object('why', 'a temporary increase was accepted', 'newLimitCents', e.new_limit_cents::text,
                                'effectiveAt', ${isoText(Prisma.sql`e.effective_at`)})
        FROM ends e),
    changes AS (
      SELECT s.user_id, s.correlation_id, 'credit.limit.change.cancelled' AS type,
             jsonb_build_object('changeId', s.id::text, 'changeType', s.type::text, 'cancelledBecause', 'SUPERSEDED') AS data, 1 AS ord
        FROM superseded s
      UNION ALL
      SELECT e.user_id, e.correlation_id, 'credit.limit.change.scheduled',
             jsonb_build_object('changeId', e.id::text, 'changeType', 'TEMPORARY_END', 'decreaseReason', NULL::text, 'currency', e.currency::text,
                                'newLimitCents', e.new_limit_cents::text, 'effectiveAt', ${isoText(Prisma.sql`e.effective_at`)}), 2
        FROM ends e),
    per_user AS (SELECT user_id, count(*)::int AS n FROM changes GROUP BY user_id),
    event_sequence AS (
      UPDATE users u SET last_event_sequence = u.last_event_sequence + p.n FROM per_user p WHERE u.id = p.user_id
      RETURNING u.id AS user_id, u.last_event_sequence - p.n AS before)
    INSERT INTO outbox_events (id, user_id, sequence, type, occurred_at, payload)
    SELECT n.event_id, n.user_id, n.sequence, n.type, ${now},
           ${storedEnvelope(Prisma.sql`1`, Prisma.sql`n.correlation_id`, Prisma.sql`n.data`)}
      FROM (SELECT c.*, uuid_v7() AS event_id, s.before + row_number() OVER (PARTITION BY c.user_id ORDER BY c.ord) AS sequence
              FROM changes c JOIN event_sequence s ON s.user_id = c.user_id) n`;
}

// The notice of a decrease cancelled by the user's own acceptance: the new limit is in the
// CREDIT_DEPLOYED beside it, so this one only says that the decrease is off.
const CANCELLED = {
  pt: { title: 'A mudança do seu limite foi cancelada', body: 'A redução programada do seu limite não vai mais acontecer.' },
  en: { title: 'Your limit change was cancelled', body: 'The scheduled lowering of your limit will not happen.' },
};
