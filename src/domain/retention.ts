// Retention of the records that only grow (docs/data-retention.md): notifications that are not
// regulatory notices after NOTIFICATION_RETENTION_DAYS; the regulatory records (deployment audit
// trails with their consent evidence and accepted offer, the notices the law requires with their
// delivery proof) after the regulatory period compliance sets. Sent downstream events are trimmed
// by dropping the outbox's day partitions (outbox-partitions.ts). Each batch is one transaction:
// a crash between batches leaves whole records, never half of one.
import { prisma, type NotificationKind, type Tx } from '../platform/db.ts';
import { CATEGORY_OF } from './notification-categories.ts';

/** Kinds of the notices the law requires (the ACCOUNT_NOTICES category): kept for the regulatory period. */
export const REGULATORY_NOTICE_KINDS: readonly NotificationKind[] = (Object.keys(CATEGORY_OF) as NotificationKind[]).filter(
  (kind) => CATEGORY_OF[kind] === 'ACCOUNT_NOTICES',
);

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
  let deleted = 0;
  for (;;) {
    const n = await prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<{ id: string }[]>`
        SELECT id::text FROM notifications
         WHERE created_at < ${before} AND (kind = ANY(${kinds}::notification_kind[])) = ${regulatory}
         LIMIT ${batch} FOR UPDATE SKIP LOCKED`;
      return deleteNotificationsById(tx, rows.map((r) => r.id));
    });
    deleted += n;
    if (n < batch) return deleted;
  }
}

/**
 * Deletes, batch by batch, the audit trails of deployments that ended before `before`: the
 * deployment, its events, its consent evidence, the accepted offer and the notifications about
 * either (with their deliveries). Returns how many deployments.
 */
export async function deleteDeploymentTrailsBefore(before: Date, batch = 500): Promise<number> {
  let deleted = 0;
  for (;;) {
    const n = await prisma.$transaction(async (tx) => {
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
    });
    deleted += n;
    if (n < batch) return deleted;
  }
}
