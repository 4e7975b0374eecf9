// What a notification's delivery writes: the in-app delivery, a push settled without sending, the
// push's own deliveries, and NOTIFIED on the deployment's audit trail when the user is first
// reached. Each for one notification or many, in one statement where it can be.
import { prisma, Prisma, type DeliveryReason, type Notification, type NotificationDelivery, type Tx } from '../platform/db.ts';
import { countDeliveries, countPushFallback } from './notification-metrics.ts';
import { pushOpen } from './push-claims.ts';

/** A delivery row to record. */
export type NewDelivery = Pick<NotificationDelivery, 'status' | 'reasonCode' | 'deviceId' | 'providerMessageId'>;

/**
 * One CTE, `notified`, appending NOTIFIED (with `detail`) to the trail of the deployment of each
 * row of a relation `n` (id, deployment_id, kind) of the statement (offers have no trail). The
 * deployment keeps its final status (streams, which end at the first final event, are unaffected);
 * its row lock orders the sequence. Nobody listens live for it: it is read from the trail.
 */
function appendNotified(detail: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    d AS (
      UPDATE credit_deployments cd SET last_sequence = cd.last_sequence + 1 FROM n WHERE cd.id = n.deployment_id
      RETURNING cd.id, cd.last_sequence, cd.status, cd.correlation_id, n.id AS notification_id, n.kind),
    notified AS (
      INSERT INTO deployment_events (deployment_id, sequence, type, status, correlation_id, detail)
      SELECT id, last_sequence, 'NOTIFIED', status, correlation_id,
             jsonb_build_object('notificationId', notification_id::text, 'kind', kind::text) || ${detail}
        FROM d)`;
}

/**
 * The in-app delivery of notifications still PENDING, in one statement: DELIVERED with the push
 * due `fallbackMs` later (or later still, when it is held for quiet hours), the IN_APP delivery, and NOTIFIED on the deployment's trail. Returns the
 * ids it delivered (those no longer PENDING are left alone).
 */
export async function recordInAppDeliveries(ids: readonly string[], now: Date, fallbackMs: number): Promise<string[]> {
  if (ids.length === 0) return [];
  const pushDueAt = new Date(now.getTime() + fallbackMs);
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    WITH n AS (
      UPDATE notifications SET status = 'DELIVERED', push_due_at = GREATEST(push_due_at, ${pushDueAt}::timestamp)
       WHERE id = ANY(${ids}::uuid[]) AND status = 'PENDING'
      RETURNING id, deployment_id, kind),
    delivery AS (
      INSERT INTO notification_deliveries (notification_id, channel, status, at) SELECT id, 'IN_APP', 'SENT', ${now} FROM n),
    ${appendNotified(Prisma.sql`jsonb_build_object('channel', 'IN_APP')`)}
    SELECT id::text AS id FROM n`;
  if (rows.length > 0) countDeliveries('IN_APP', rows.map(() => 'SENT'));
  return rows.map((r) => r.id);
}

/**
 * Settles the push of notifications without sending it (push off, no device), in one statement:
 * a SKIPPED delivery with the reason; a notification never delivered (PENDING) ends FAILED, one
 * delivered in-app keeps DELIVERED. Those acknowledged, failed, settled, held or claimed since
 * they were read are left alone (their push was decided by someone else). Returns the ids it settled.
 */
export async function recordPushSkipped(
  notifications: readonly Pick<Notification, 'id' | 'pushDueAt' | 'status'>[],
  reason: DeliveryReason,
  now: Date,
): Promise<string[]> {
  if (notifications.length === 0) return [];
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    WITH n AS (
      UPDATE notifications SET push_settled_at = ${now}, status = CASE WHEN status = 'PENDING' THEN 'FAILED'::notification_status ELSE status END
       WHERE id = ANY(${notifications.map((n) => n.id)}::uuid[]) AND ${pushOpen(now)}
      RETURNING id)
    INSERT INTO notification_deliveries (notification_id, channel, status, at, reason_code)
    SELECT id, 'PUSH', 'SKIPPED', ${now}, ${reason}::delivery_reason FROM n
    RETURNING notification_id::text AS id`;
  const settled = new Set(rows.map((r) => r.id));
  if (settled.size > 0) countDeliveries('PUSH', rows.map(() => 'SKIPPED'));
  // A push fallback settled: delivered in-app first (a push held for quiet hours has a due time too).
  for (const n of notifications) if (settled.has(n.id) && n.pushDueAt && n.status === 'DELIVERED') countPushFallback();
  return [...settled];
}

/** A push to hold until `until`, and why (quiet hours). */
export interface PushHold {
  id: string;
  until: Date;
  reason: DeliveryReason;
}

/**
 * Holds pushes (quiet hours), in one statement: a DEFERRED delivery saying when each will go, and
 * the push due then. Only a push still open and due at `now` is held: one acknowledged, failed,
 * settled, or already held or claimed by another decider since it was read is left alone, so a
 * push is held once however many deciders read it. Returns the ids it held.
 */
export async function recordPushesDeferred(holds: readonly PushHold[], now: Date): Promise<string[]> {
  if (holds.length === 0) return [];
  // Timestamps travel as ISO text: the columns hold UTC wall time.
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    WITH hold AS (
      SELECT * FROM unnest(${holds.map((h) => h.id)}::uuid[], ${holds.map((h) => h.until.toISOString())}::timestamp[],
                           ${holds.map((h) => h.reason)}::delivery_reason[]) AS h(id, until, reason)),
    n AS (
      UPDATE notifications SET push_due_at = hold.until FROM hold
       WHERE notifications.id = hold.id AND ${pushOpen(now)}
      RETURNING notifications.id, hold.until, hold.reason)
    INSERT INTO notification_deliveries (notification_id, channel, status, at, reason_code, scheduled_for)
    SELECT id, 'PUSH', 'DEFERRED', ${now}, reason, until FROM n
    RETURNING notification_id::text AS id`;
  if (rows.length > 0) countDeliveries('PUSH', rows.map(() => 'DEFERRED'));
  return rows.map((r) => r.id);
}

export interface PushRecord {
  deliveries: NewDelivery[];
  /** Devices whose token the provider refused for good: deleted. */
  invalidDevices?: { id: string }[];
  /** Devices this notification reached on earlier attempts. */
  reachedBefore?: number;
  /** The push channel is done: never push this notification again. */
  settle: boolean;
  now: Date;
}

/**
 * Records a push's attempts, deletes devices whose token is dead, and moves the notification on:
 * DELIVERED when any device got it (with NOTIFIED on the trail); FAILED when nothing could deliver
 * it and the push is settled. Returns how many devices have it.
 */
export async function recordPushAttempts(notification: Notification, record: PushRecord): Promise<number> {
  const sent = (record.reachedBefore ?? 0) + record.deliveries.filter((d) => d.status === 'SENT').length;
  await prisma.$transaction(async (tx) => {
    // One create per delivery (usually one): Prisma caches its plan, never createMany's.
    for (const delivery of record.deliveries) {
      await tx.notificationDelivery.create({ data: { ...delivery, notificationId: notification.id, channel: 'PUSH', at: record.now } });
    }
    // After the deliveries that name them: those keep their record, without a device.
    const invalid = (record.invalidDevices ?? []).map((d) => d.id);
    if (invalid.length > 0) await tx.device.deleteMany({ where: { id: { in: invalid } } });
    if (record.settle) await tx.notification.update({ where: { id: notification.id }, data: { pushSettledAt: record.now } });
    if (sent === 0 && !record.settle) return;
    // Leaves PENDING once (an in-app delivery or an acknowledgement may have come first).
    const [changed] = await tx.notification.updateManyAndReturn({
      where: { id: notification.id, status: 'PENDING' },
      data: { status: sent > 0 ? 'DELIVERED' : 'FAILED' },
    });
    if (changed && sent > 0) await recordNotified(tx, changed, { channel: 'PUSH', devices: sent });
  });
  countDeliveries('PUSH', record.deliveries.map((d) => d.status));
  if (record.settle && notification.pushDueAt && notification.status === 'DELIVERED') countPushFallback();
  return sent;
}

/** NOTIFIED on the trail of one notification's deployment, in the caller's transaction. */
async function recordNotified(tx: Tx, notification: Notification, detail: Prisma.InputJsonObject): Promise<void> {
  if (!notification.deploymentId) return;
  await tx.$executeRaw`
    WITH n AS (SELECT ${notification.id}::uuid AS id, ${notification.deploymentId}::uuid AS deployment_id, ${notification.kind}::text AS kind),
    ${appendNotified(Prisma.sql`${JSON.stringify(detail)}::jsonb`)}
    SELECT 1`;
}
