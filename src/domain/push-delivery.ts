// Sending notifications' pushes: one message to each valid device of the user not reached yet,
// each send recorded before it goes out, so a send left in doubt by a crash is known (it is sent
// once more with the same collapse key; after a second one in doubt, that device is let be). A
// batch of notifications takes one statement per step, not one per notification.
import { hotQuery, prisma, Prisma, type DeliveryReason, type Device, type Notification } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import { recordPushes, type NewDelivery } from './delivery-records.ts';
import { activeDevicesOf } from './devices.ts';
import { claimPushes } from './push-claims.ts';
import type { PushFailure, PushMessage, PushSender } from './ports.ts';

export type PushOutcome =
  /** Nothing to send it to: the caller settles the push SKIPPED. */
  | { kind: 'no-device' }
  /** Sent (or failed for good) and recorded; `sent` devices have it. */
  | { kind: 'settled'; outcome: 'pushed' | 'push-failed' }
  /** A send failed transiently and this is not the last attempt: try again later. */
  | { kind: 'retry'; error: string }
  /** Another decider claimed, held or settled the push since it was read: nothing sent here. */
  | { kind: 'taken' };

/** A notification whose push is due, with what its message needs. */
export interface DuePush {
  notification: Notification;
  timeSensitive: boolean;
  /** An offer's push is worthless after the offer: the provider drops it if undelivered by then. */
  offerExpiresAt: Date | null;
}

/**
 * Pushes each notification to every valid device of its user not reached yet: a batch's claims,
 * reads and records take one statement each, whatever its size, and its sends go out together.
 */
export async function sendPushes(
  push: PushSender,
  logger: Logger,
  pushes: readonly DuePush[],
  options: { finalAttempt: boolean; claimMs: number },
  now: Date,
): Promise<Map<string, PushOutcome>> {
  const outcomes = new Map<string, PushOutcome>();
  if (pushes.length === 0) return outcomes;
  // Only one decider sends each: the one whose claim passes (push-claims.ts). What was reached is read under it.
  const claims = await claimPushes(pushes.map((p) => p.notification.id), now, options.claimMs, logger);
  try {
    for (const p of pushes) if (!claims.held.has(p.notification.id)) outcomes.set(p.notification.id, { kind: 'taken' });
    const mine = pushes.filter((p) => claims.held.has(p.notification.id));
    if (mine.length === 0) return outcomes;
    const ids = mine.map((p) => p.notification.id);
    const userIds = [...new Set(mine.map((p) => p.notification.userId))];
    const [devices, reached, doubt, badges] = await Promise.all([activeDevicesOf(userIds), reachedDevices(ids), sendsInDoubt(ids), unacknowledgedOf(userIds)]);
    // Due again as they were, for the caller's SKIPPED.
    const noDevice = mine.filter((p) => !devices.has(p.notification.userId) && !reached.has(p.notification.id));
    await claims.release(noDevice.map((p) => p.notification.id));
    for (const p of noDevice) outcomes.set(p.notification.id, { kind: 'no-device' });

    const plans = mine
      .filter((p) => !outcomes.has(p.notification.id))
      .map((p) => {
        const n = p.notification;
        const reachedBefore = reached.get(n.id) ?? new Set<string | null>();
        const targets = (devices.get(n.userId) ?? []).filter((device) => !reachedBefore.has(device.id));
        const inDoubt = (device: Device) => doubt.get(`${n.id}/${device.id}`) ?? 0;
        for (const device of targets.filter((d) => inDoubt(d) === 1)) {
          logger.warn({ notificationId: n.id, correlationId: n.correlationId, deviceId: device.id }, 'push left in doubt by an interrupted send: sending it once more, same collapse key');
        }
        return {
          push: p,
          reachedBefore: reachedBefore.size,
          sendable: targets.filter((d) => inDoubt(d) < 2),
          letBe: targets.filter((d) => inDoubt(d) >= 2),
          message: pushMessage(p, badges.get(n.userId) ?? 0),
        };
      });
    const attempts = plans.flatMap((plan) => plan.sendable.map((device) => ({ notificationId: plan.push.notification.id, deviceId: device.id })));
    if (attempts.length > 0) {
      await hotQuery('record push attempts', Prisma.sql`
        INSERT INTO push_attempts (notification_id, device_id, started_at)
        SELECT a.notification_id, a.device_id, ${now}::timestamp
          FROM unnest(${attempts.map((a) => a.notificationId)}::uuid[], ${attempts.map((a) => a.deviceId)}::uuid[]) AS a(notification_id, device_id)`);
    }
    const results = await Promise.all(
      plans.map(async (plan) => {
        const log = logger.child({ notificationId: plan.push.notification.id, correlationId: plan.push.notification.correlationId });
        const sent = await pushToDevices(push, log, plan.sendable, plan.message);
        sent.deliveries.push(...plan.letBe.map((device) => inDoubtDelivery(device.id)));
        return { plan, sent, retry: sent.transientErrors.length > 0 && !options.finalAttempt };
      }),
    );
    const reachedNow = await recordPushes(
      results.map(({ plan, sent, retry }) => ({ notification: plan.push.notification, deliveries: sent.deliveries, reachedBefore: plan.reachedBefore, settle: !retry })),
      results.flatMap(({ sent }) => sent.invalidDevices.map((d) => d.id)),
      now,
    );
    const retries = results.filter((r) => r.retry);
    await claims.release(retries.map(({ plan }) => plan.push.notification.id));
    for (const { plan, sent, retry } of results) {
      const id = plan.push.notification.id;
      outcomes.set(id, retry ? { kind: 'retry', error: sent.transientErrors[0]! } : { kind: 'settled', outcome: reachedNow.get(id)! > 0 ? 'pushed' : 'push-failed' });
    }
    return outcomes;
  } finally {
    claims.stop();
  }
}

const FAILURE_REASON: Record<PushFailure, DeliveryReason> = {
  'invalid-token': 'DEVICE_TOKEN_INVALID',
  rejected: 'PROVIDER_REJECTED',
  transient: 'PROVIDER_UNAVAILABLE',
};

/** One message per device, all at once; what each answer means for the device and the job. */
async function pushToDevices(push: PushSender, logger: Logger, devices: Device[], message: PushMessage) {
  const results = await Promise.all(devices.map(async (device) => ({ device, result: await push.send(device.token, message) })));
  const deliveries: NewDelivery[] = [];
  const invalidDevices: { id: string }[] = [];
  const transientErrors: string[] = [];
  for (const { device, result } of results) {
    const log = logger.child({ deviceId: device.id, platform: device.platform });
    if (result.ok) {
      log.info({ messageId: result.messageId }, 'push sent');
      deliveries.push({ status: 'SENT', reasonCode: null, deviceId: device.id, providerMessageId: result.messageId });
      continue;
    }
    // The provider's words are for the logs; the delivery keeps a code, rendered for people.
    log.warn({ failure: result.failure, error: result.error }, 'push failed');
    deliveries.push({ status: 'FAILED', reasonCode: FAILURE_REASON[result.failure], deviceId: device.id, providerMessageId: null });
    if (result.failure === 'invalid-token') invalidDevices.push({ id: device.id });
    if (result.failure === 'transient') transientErrors.push(result.error);
  }
  return { deliveries, invalidDevices, transientErrors };
}

/** The devices each notification's push reached on earlier attempts (null: a device removed since). */
async function reachedDevices(ids: string[]): Promise<Map<string, Set<string | null>>> {
  const rows = await hotQuery<{ notificationId: string; deviceId: string | null }>('pushes reached', Prisma.sql`
    SELECT notification_id::text AS "notificationId", device_id::text AS "deviceId" FROM notification_deliveries
     WHERE notification_id = ANY(${ids}::uuid[]) AND channel = 'PUSH' AND status = 'SENT'`);
  const reached = new Map<string, Set<string | null>>();
  for (const r of rows) reached.set(r.notificationId, (reached.get(r.notificationId) ?? new Set()).add(r.deviceId));
  return reached;
}

/** Sends recorded as started and never answered, by notification and device (`id/deviceId`). */
async function sendsInDoubt(ids: string[]): Promise<Map<string, number>> {
  const rows = await hotQuery<{ notificationId: string; deviceId: string; inDoubt: number }>('pushes in doubt', Prisma.sql`
    SELECT a.notification_id::text AS "notificationId", a.device_id::text AS "deviceId",
           count(*)::int - (SELECT count(*)::int FROM notification_deliveries d
                             WHERE d.notification_id = a.notification_id AND d.device_id = a.device_id AND d.channel = 'PUSH') AS "inDoubt"
      FROM push_attempts a WHERE a.notification_id = ANY(${ids}::uuid[])
     GROUP BY a.notification_id, a.device_id`);
  return new Map(rows.filter((r) => r.inDoubt > 0).map((r) => [`${r.notificationId}/${r.deviceId}`, r.inDoubt]));
}

/** Each user's notifications not acknowledged (the badge a push carries). */
async function unacknowledgedOf(userIds: string[]): Promise<Map<string, number>> {
  const rows = await hotQuery<{ userId: string; n: number }>('badges', Prisma.sql`
    SELECT user_id AS "userId", count(*)::int AS n FROM notifications WHERE user_id = ANY(${userIds}::text[]) AND acknowledged_at IS NULL GROUP BY user_id`);
  return new Map(rows.map((r) => [r.userId, r.n]));
}

/** A device whose sends of this notification were twice interrupted: it most likely has it; never sent again. */
const inDoubtDelivery = (deviceId: string): NewDelivery => ({
  status: 'FAILED',
  reasonCode: 'SEND_IN_DOUBT',
  deviceId,
  providerMessageId: null,
});

function pushMessage({ notification, timeSensitive, offerExpiresAt }: DuePush, badge: number): PushMessage {
  return {
    timeSensitive,
    expiresAt: offerExpiresAt,
    notificationId: notification.id,
    kind: notification.kind,
    title: notification.title,
    body: notification.body,
    deepLink: notification.deepLink,
    collapseKey: notification.deploymentId ? `deployment-${notification.deploymentId}` : `offer-${notification.offerId}`,
    badge,
  };
}

/**
 * Settles a notification whose job gave up for a reason other than the push (e.g. the database
 * was unreachable on every attempt): the failure is recorded as a delivery, never dropped silently.
 */
export async function abandonNotification(logger: Logger, id: string, reason: string, now = new Date()): Promise<void> {
  const notification = await prisma.notification.findUnique({ where: { id } });
  if (!notification || notification.status === 'ACKNOWLEDGED' || notification.status === 'FAILED' || notification.pushSettledAt) return;
  // The user reads a delivery's reason: the job's own (a driver's words, say) goes to the logs only.
  logger.warn({ reason }, 'notification delivery abandoned: its job gave up');
  const failed: NewDelivery = {
    status: 'FAILED',
    reasonCode: 'DELIVERY_ABANDONED',
    deviceId: null,
    providerMessageId: null,
  };
  await recordPushes([{ notification, deliveries: [failed], settle: true }], [], now);
}
