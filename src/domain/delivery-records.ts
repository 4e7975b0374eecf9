// What a notification's delivery writes: the in-app delivery, a push settled without sending, the
// push's own deliveries, and NOTIFIED on the deployment's audit trail when the user is first
// reached. Each for one notification or many, in one statement where it can be.
import { hotQuery, Prisma, type DeliveryReason, type Notification, type NotificationDelivery } from '../platform/db.ts';
import { countDeliveries, countPushFallback } from './notification-metrics.ts';
import { pushOpen } from './push-claims.ts';

/** A delivery row to record. */
export type NewDelivery = Pick<NotificationDelivery, 'status' | 'reasonCode' | 'deviceId' | 'providerMessageId'>;

/**
 * One CTE, `notified`, appending NOTIFIED to the trail of the deployment of each row of a relation
 * (`from`: id, deployment_id, kind, detail) of the statement (offers have no trail): its detail is
 * the notification's id and kind, with the row's `detail`. The deployment keeps its final status
 * (streams, which end at the first final event, are unaffected); its row lock orders the
 * sequence. Nobody listens live for it: it is read from the trail.
 */
function appendNotified(from = Prisma.raw('n')): Prisma.Sql {
  return Prisma.sql`
    d AS (
      UPDATE credit_deployments cd SET last_sequence = cd.last_sequence + 1 FROM ${from} n WHERE cd.id = n.deployment_id
      RETURNING cd.id, cd.last_sequence, cd.status, cd.correlation_id, n.id AS notification_id, n.kind, n.detail),
    notified AS (
      INSERT INTO deployment_events (deployment_id, sequence, type, status, correlation_id, detail)
      SELECT id, last_sequence, 'NOTIFIED', status, correlation_id,
             jsonb_build_object('notificationId', notification_id::text, 'kind', kind::text) || detail
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
  const rows = await hotQuery<{ id: string }>('record in-app deliveries', Prisma.sql`
    WITH n AS (
      UPDATE notifications SET status = 'DELIVERED', push_due_at = GREATEST(push_due_at, ${pushDueAt}::timestamp)
       WHERE id = ANY(${ids}::uuid[]) AND status = 'PENDING'
      RETURNING id, deployment_id, kind, jsonb_build_object('channel', 'IN_APP') AS detail),
    delivery AS (
      INSERT INTO notification_deliveries (notification_id, channel, status, at) SELECT id, 'IN_APP', 'SENT', ${now} FROM n),
    ${appendNotified()}
    SELECT id::text AS id FROM n`);
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
  const rows = await hotQuery<{ id: string }>('record pushes skipped', Prisma.sql`
    WITH n AS (
      UPDATE notifications SET push_settled_at = ${now}, status = CASE WHEN status = 'PENDING' THEN 'FAILED'::notification_status ELSE status END
       WHERE id = ANY(${notifications.map((n) => n.id)}::uuid[]) AND ${pushOpen(now)}
      RETURNING id)
    INSERT INTO notification_deliveries (notification_id, channel, status, at, reason_code)
    SELECT id, 'PUSH', 'SKIPPED', ${now}, ${reason}::delivery_reason FROM n
    RETURNING notification_id::text AS id`);
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
  const rows = await hotQuery<{ id: string }>('record pushes deferred', Prisma.sql`
    WITH hold AS (
      SELECT * FROM unnest(${holds.map((h) => h.id)}::uuid[], ${holds.map((h) => h.until.toISOString())}::timestamp[],
                           ${holds.map((h) => h.reason)}::delivery_reason[]) AS h(id, until, reason)),
    n AS (
      UPDATE notifications SET push_due_at = hold.until FROM hold
       WHERE notifications.id = hold.id AND ${pushOpen(now)}
      RETURNING notifications.id, hold.until, hold.reason)
    INSERT INTO notification_deliveries (notification_id, channel, status, at, reason_code, scheduled_for)
    SELECT id, 'PUSH', 'DEFERRED', ${now}, reason, until FROM n
    RETURNING notification_id::text AS id`);
  if (rows.length > 0) countDeliveries('PUSH', rows.map(() => 'DEFERRED'));
  return rows.map((r) => r.id);
}

/** What one notification's push came to. */
export interface PushRecord {
  notification: Pick<Notification, 'id' | 'status' | 'pushDueAt'>;
  deliveries: NewDelivery[];
  /** Devices this notification reached on earlier attempts. */
  reachedBefore?: number;
  /** The push channel is done: never push this notification again. */
  settle: boolean;
}

/**
 * Records the attempts of many pushes in one statement, deletes devices whose token is dead
 * (their deliveries keep their record, without a device), and moves each notification on:
 * DELIVERED when any device got it (with NOTIFIED on the trail); FAILED when nothing could deliver
 * it and the push is settled. Returns how many devices have each notification.
 */
export async function recordPushes(records: readonly PushRecord[], invalidDevices: readonly string[], now: Date): Promise<Map<string, number>> {
  const sent = new Map(records.map((r) => [r.notification.id, (r.reachedBefore ?? 0) + r.deliveries.filter((d) => d.status === 'SENT').length]));
  if (records.length === 0) return sent;
  const invalid = new Set(invalidDevices);
  const rows = records.flatMap((r) => r.deliveries.map((d) => ({ ...d, notificationId: r.notification.id })));
  const changes = records.filter((r) => r.settle || sent.get(r.notification.id)! > 0);
  await hotQuery('record pushes', Prisma.sql`
    WITH r AS (
      SELECT * FROM unnest(${rows.map((r) => r.notificationId)}::uuid[], ${rows.map((r) => (r.deviceId && !invalid.has(r.deviceId) ? r.deviceId : null))}::uuid[],
                           ${rows.map((r) => r.status)}::delivery_status[], ${rows.map((r) => r.reasonCode)}::delivery_reason[],
                           ${rows.map((r) => r.providerMessageId)}::text[])
        AS r(notification_id, device_id, status, reason_code, provider_message_id)),
    delivery AS (
      INSERT INTO notification_deliveries (notification_id, channel, status, at, reason_code, device_id, provider_message_id)
      SELECT notification_id, 'PUSH', status, ${now}::timestamp, reason_code, device_id, provider_message_id FROM r),
    gone AS (DELETE FROM devices WHERE id = ANY(${[...invalid]}::uuid[])),
    s AS (
      SELECT * FROM unnest(${changes.map((r) => r.notification.id)}::uuid[], ${changes.map((r) => sent.get(r.notification.id)!)}::int[],
                           ${changes.map((r) => r.settle)}::boolean[]) AS s(id, sent, settle)),
    -- Each row as it is now (locked): it leaves PENDING once (an in-app delivery or an acknowledgement may have come first).
    was AS (SELECT notifications.id, notifications.status FROM notifications JOIN s ON s.id = notifications.id FOR UPDATE OF notifications),
    changed AS (
      UPDATE notifications
         SET push_settled_at = CASE WHEN s.settle THEN ${now}::timestamp ELSE notifications.push_settled_at END,
             status = CASE WHEN was.status <> 'PENDING' THEN notifications.status
                           WHEN s.sent > 0 THEN 'DELIVERED'::notification_status
                           WHEN s.settle THEN 'FAILED'::notification_status
                           ELSE notifications.status END
        FROM s JOIN was ON was.id = s.id
       WHERE notifications.id = s.id
      RETURNING notifications.id, notifications.deployment_id, notifications.kind, was.status = 'PENDING' AND s.sent > 0 AS reached,
                jsonb_build_object('channel', 'PUSH', 'devices', s.sent) AS detail),
    n AS (SELECT * FROM changed WHERE reached),
    ${appendNotified()}
    SELECT 1`);
  countDeliveries('PUSH', rows.map((d) => d.status));
  // A push fallback settled: delivered in-app first.
  for (const r of records) if (r.settle && r.notification.pushDueAt && r.notification.status === 'DELIVERED') countPushFallback();
  return sent;
}
