// Retention of the records that only grow (docs/data-retention.md): notifications that are not
// regulatory notices after NOTIFICATION_RETENTION_DAYS, and offers never accepted that long after
// their expiry; the regulatory records (deployment audit trails with their consent evidence and
// accepted offer, limit-change trails, the history of credit lines, the notices the law requires
// with their delivery proof) after the regulatory period compliance sets. Sent downstream events
// are trimmed by dropping the outbox's day partitions (outbox-partitions.ts). Each batch is one
// transaction: a crash between batches leaves whole records, never half of one.
import { prisma, Prisma, type CreditOfferStatus, type NotificationKind, type Tx } from '../platform/db.ts';
import { CATEGORY_OF } from './notification-categories.ts';

/** Kinds of the notices the law requires (the ACCOUNT_NOTICES category): kept for the regulatory period. */
export const REGULATORY_NOTICE_KINDS: readonly NotificationKind[] = (Object.keys(CATEGORY_OF) as NotificationKind[]).filter(
  (kind) => CATEGORY_OF[kind] === 'ACCOUNT_NOTICES',
);

/** Runs `step` (one batch, returning how many rows it deleted) until a batch deletes fewer than `batch`: the total. */
async function inBatches(batch: number, step: () => Promise<number>): Promise<number> {
  let deleted = 0;
  for (;;) {
    const n = await step();
    deleted += n;
    if (n < batch) return deleted;
  }
}

/** Deletes notifications with their deliveries and push attempts, in the caller's transaction. */
export async function deleteNotificationsById(tx: Tx, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  await tx.$executeRaw`DELETE FROM notification_deliveries WHERE notification_id = ANY(${ids}::uuid[])`;
  await tx.$executeRaw`DELETE FROM push_attempts WHERE notification_id = ANY(${ids}::uuid[])`;
  return tx.$executeRaw`DELETE FROM notifications WHERE id = ANY(${ids}::uuid[])`;
}

/**
 * Deletes, batch by batch, the notifications created before `before`: the ordinary ones, or (with
 * `regulatory`) the regulatory notices; with their deliveries and push attempts. Returns how many.
 */
export async function deleteNotificationsBefore(before: Date, { regulatory, batch = 2_000 }: { regulatory: boolean; batch?: number }): Promise<number> {
  const kinds = [...REGULATORY_NOTICE_KINDS];
  if (regulatory && kinds.length === 0) return 0;
  return inBatches(batch, () =>
    prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<{ id: string }[]>`
        SELECT id::text FROM notifications
         WHERE created_at < ${before} AND (kind = ANY(${kinds}::notification_kind[])) = ${regulatory}
         LIMIT ${batch} FOR UPDATE SKIP LOCKED`;
      return deleteNotificationsById(tx, rows.map((r) => r.id));
    }),
  );
}

/**
 * Deletes, batch by batch, the audit trails of deployments that ended before `before`: the
 * deployment, its events, its consent evidence, the accepted offer and the notifications about
 * either (with their deliveries). Returns how many deployments.
 */
export async function deleteDeploymentTrailsBefore(before: Date, batch = 500): Promise<number> {
  return inBatches(batch, () =>
    prisma.$transaction(async (tx) => {
      const trails = await tx.$queryRaw<{ id: string; offerId: string }[]>`
        SELECT id::text, offer_id::text AS "offerId" FROM credit_deployments
         WHERE status IN ('DEPLOYED', 'FAILED') AND queued_at < ${before} AND completed_at < ${before}
         LIMIT ${batch} FOR UPDATE SKIP LOCKED`;
      if (trails.length === 0) return 0;
      const ids = trails.map((t) => t.id);
      const offerIds = trails.map((t) => t.offerId);
      const notifications = await tx.$queryRaw<{ id: string }[]>`
        SELECT id::text FROM notifications WHERE deployment_id = ANY(${ids}::uuid[])
        UNION SELECT id::text FROM notifications WHERE offer_id = ANY(${offerIds}::uuid[])`;
      await deleteNotificationsById(tx, notifications.map((r) => r.id));
      await tx.$executeRaw`DELETE FROM deployment_events WHERE deployment_id = ANY(${ids}::uuid[])`;
      // Consent evidence is append-only (a trigger): past the period, this transaction says so.
      await tx.$executeRaw`SELECT set_config('credit.regulatory_retention_before', ${before.toISOString().replace('T', ' ').replace('Z', '')}, true)`;
      await tx.$executeRaw`DELETE FROM acceptance_consents WHERE offer_id = ANY(${offerIds}::uuid[])`;
      await tx.$executeRaw`DELETE FROM credit_deployments WHERE id = ANY(${ids}::uuid[])`;
      await tx.$executeRaw`DELETE FROM credit_offers WHERE id = ANY(${offerIds}::uuid[])`;
      return trails.length;
    }),
  );
}

/**
 * An offer that ended without being accepted: the statuses of credit_offers_ended_expires_at_id_idx.
 * No deployment, consent evidence or limit change names one (the accept takes only a PENDING
 * offer, in the statement that writes them, and their foreign keys refuse the delete otherwise);
 * a notification may.
 */
export const ENDED_UNACCEPTED: readonly CreditOfferStatus[] = ['EXPIRED', 'DECLINED', 'SUPERSEDED', 'WITHDRAWN'];

/**
 * Deletes the offers never accepted whose expiry is before `before` (an offer declined, superseded
 * or withdrawn ended earlier still), in batches taken in expiry order, unless a kept record names
 * one: a notification about it waits for its own retention, and the offer goes at a later run.
 * The batches walk the ended offers' index by (expiry, id), so the ones kept are stepped over, and
 * each batch reads its own rows and their references by index whatever the backlog (a first run
 * on a book of years). Returns how many.
 */
export async function deleteUnacceptedOffersBefore(before: Date, batch = 500): Promise<number> {
  // Written out, not a parameter: the planner matches the partial index's predicate to literals only.
  const ended = Prisma.raw(ENDED_UNACCEPTED.map((s) => `'${s}'::credit_offer_status`).join(', '));
  let deleted = 0;
  // The cursor's time travels as text: to the microsecond, as stored (a Date would keep milliseconds).
  let after: { at: string; id: string } | null = null;
  for (;;) {
    const from: Prisma.Sql = after ? Prisma.sql`AND (o.expires_at, o.id) > (${after.at}::timestamp, ${after.id}::uuid)` : Prisma.empty;
    // The candidates in index order (numbered as read: no sort), those no notification names, and
    // their deletion by row address: each step is by index or address, never a scan of the table.
    const [step] = await prisma.$queryRaw<{ seen: number; deleted: number; lastAt: string | null; lastId: string | null }[]>`
      WITH candidates AS MATERIALIZED (
        SELECT o.ctid AS tid, o.id, o.expires_at, row_number() OVER (ORDER BY o.expires_at, o.id) AS n FROM credit_offers o
         WHERE o.status IN (${ended}) AND o.expires_at < ${before} ${from}
         ORDER BY o.expires_at, o.id
         LIMIT ${batch}),
      gone AS (
        DELETE FROM credit_offers WHERE ctid = ANY (ARRAY(
          SELECT o.tid FROM candidates o WHERE NOT EXISTS (SELECT 1 FROM notifications n WHERE n.offer_id = o.id)))
        RETURNING id),
      last AS (SELECT expires_at::text AS at, id::text AS id FROM candidates WHERE n = ${batch})
      SELECT (SELECT count(*) FROM candidates)::int AS seen, (SELECT count(*) FROM gone)::int AS deleted, last.at AS "lastAt", last.id AS "lastId"
        FROM (SELECT 1) one LEFT JOIN last ON true`;
    deleted += step!.deleted;
    if (step!.seen < batch) return deleted;
    after = { at: step!.lastAt!, id: step!.lastId! };
  }
}

/**
 * Deletes, batch by batch, the limit changes that ended (applied or cancelled) before `before`,
 * with their audit events. Their notices are regulatory notifications, deleted by their own age
 * (deleteNotificationsBefore). Returns how many changes.
 */
export async function deleteLimitChangeTrailsBefore(before: Date, batch = 500): Promise<number> {
  return inBatches(batch, () =>
    prisma.$transaction(async (tx) => {
      const ended = await tx.$queryRaw<{ id: string }[]>`
        SELECT id::text FROM limit_changes
         WHERE created_at < ${before} AND status IN ('APPLIED', 'CANCELLED') AND coalesce(applied_at, cancelled_at) < ${before}
         LIMIT ${batch} FOR UPDATE SKIP LOCKED`;
      if (ended.length === 0) return 0;
      const ids = ended.map((c) => c.id);
      await tx.$executeRaw`DELETE FROM limit_change_events WHERE change_id = ANY(${ids}::uuid[])`;
      return tx.$executeRaw`DELETE FROM limit_changes WHERE id = ANY(${ids}::uuid[])`;
    }),
  );
}

/** Deletes, batch by batch, the history of credit lines (User.creditHistory) before `before`. Returns how many rows. */
export async function deleteCreditLineChangesBefore(before: Date, batch = 2_000): Promise<number> {
  return inBatches(
    batch,
    () => prisma.$executeRaw`
      DELETE FROM credit_line_changes WHERE ctid = ANY (ARRAY(SELECT ctid FROM credit_line_changes WHERE at < ${before} LIMIT ${batch}))`,
  );
}
