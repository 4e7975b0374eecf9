// Sending a notification's push: one message to each valid device of the user not reached yet,
// each send recorded before it goes out, so a send left in doubt by a crash is known (it is sent
// once more with the same collapse key; after a second one in doubt, that device is let be).
import { prisma, type Device, type Notification } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import { recordPushAttempts, type NewDelivery } from './delivery-records.ts';
import { activeDevicesOf } from './devices.ts';
import { claimPush, type PushClaim } from './push-claims.ts';
import { UNACKNOWLEDGED } from './notifications.ts';
import type { PushFailure, PushMessage, PushSender } from './ports.ts';
import type { DeliveryReason } from '../platform/db.ts';

export type PushOutcome =
  /** Nothing to send it to: the caller settles the push SKIPPED. */
  | { kind: 'no-device' }
  /** Sent (or failed for good) and recorded; `sent` devices have it. */
  | { kind: 'settled'; outcome: 'pushed' | 'push-failed' }
  /** A send failed transiently and this is not the last attempt: try again later. */
  | { kind: 'retry'; error: string }
  /** Another decider claimed, held or settled the push since it was read: nothing sent here. */
  | { kind: 'taken' };

/** Pushes the notification to every valid device of its user not reached yet. */
export async function sendPush(
  push: PushSender,
  logger: Logger,
  notification: Notification,
  options: { finalAttempt: boolean; timeSensitive: boolean; offerExpiresAt: Date | null; claimMs: number },
  now: Date,
): Promise<PushOutcome> {
  // Only one decider sends: the one whose claim passes (push-claims.ts). What was reached is read under it.
  const claim = await claimPush(notification.id, now, options.claimMs, logger);
  if (!claim) return { kind: 'taken' };
  try {
    const devices = await activeDevicesOf(notification.userId);
    const reached = new Set(
      (await prisma.notificationDelivery.findMany({
        where: { notificationId: notification.id, channel: 'PUSH', status: 'SENT' },
        select: { deviceId: true },
      })).map((d) => d.deviceId),
    );
    if (devices.length === 0 && reached.size === 0) {
      // Due again as it was, for the caller's SKIPPED.
      await claim.release();
      return { kind: 'no-device' };
    }
    const targets = devices.filter((device) => !reached.has(device.id));
    return await sendClaimed(push, logger, notification, options, now, targets, reached.size, claim);
  } finally {
    claim.stop();
  }
}

async function sendClaimed(
  push: PushSender,
  logger: Logger,
  notification: Notification,
  options: { finalAttempt: boolean; timeSensitive: boolean; offerExpiresAt: Date | null },
  now: Date,
  targets: Device[],
  reachedBefore: number,
  claim: PushClaim,
): Promise<PushOutcome> {
  const doubt = await sendsInDoubt(notification.id);
  const sendable = targets.filter((device) => (doubt.get(device.id) ?? 0) < 2);
  const letBe = targets.filter((device) => (doubt.get(device.id) ?? 0) >= 2);
  for (const device of sendable.filter((d) => doubt.has(d.id))) {
    logger.warn({ deviceId: device.id }, 'push left in doubt by an interrupted send: sending it once more, same collapse key');
  }
  if (sendable.length > 0) {
    await prisma.pushAttempt.createMany({ data: sendable.map((device) => ({ notificationId: notification.id, deviceId: device.id, startedAt: now })) });
  }
  const sent = await pushToDevices(push, logger, sendable, await pushMessage(notification, options));
  sent.deliveries.push(...letBe.map((device) => inDoubt(device.id)));
  const retry = sent.transientErrors.length > 0 && !options.finalAttempt;
  const reachedNow = await recordPushAttempts(notification, {
    deliveries: sent.deliveries,
    invalidDevices: sent.invalidDevices,
    reachedBefore,
    settle: !retry,
    now,
  });
  if (retry) {
    await claim.release();
    return { kind: 'retry', error: sent.transientErrors[0]! };
  }
  return { kind: 'settled', outcome: reachedNow > 0 ? 'pushed' : 'push-failed' };
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

/** Sends to each device of the notification that were recorded as started and never answered. */
async function sendsInDoubt(notificationId: string): Promise<Map<string, number>> {
  const rows = await prisma.$queryRaw<{ deviceId: string; inDoubt: number }[]>`
    SELECT a.device_id::text AS "deviceId",
           count(*)::int - (SELECT count(*)::int FROM notification_deliveries d
                             WHERE d.notification_id = a.notification_id AND d.device_id = a.device_id AND d.channel = 'PUSH') AS "inDoubt"
      FROM push_attempts a WHERE a.notification_id = ${notificationId}::uuid
     GROUP BY a.notification_id, a.device_id`;
  return new Map(rows.filter((r) => r.inDoubt > 0).map((r) => [r.deviceId, r.inDoubt]));
}

/** A device whose sends of this notification were twice interrupted: it most likely has it; never sent again. */
const inDoubt = (deviceId: string): NewDelivery => ({
  status: 'FAILED',
  reasonCode: 'SEND_IN_DOUBT',
  deviceId,
  providerMessageId: null,
});

async function pushMessage(notification: Notification, options: { timeSensitive: boolean; offerExpiresAt: Date | null }): Promise<PushMessage> {
  const unacknowledged = await prisma.notification.count({ where: { userId: notification.userId, ...UNACKNOWLEDGED } });
  return {
    timeSensitive: options.timeSensitive,
    // An offer's push is worthless after the offer: the provider drops it if undelivered by then.
    expiresAt: options.offerExpiresAt,
    notificationId: notification.id,
    kind: notification.kind,
    title: notification.title,
    body: notification.body,
    deepLink: notification.deepLink,
    collapseKey: notification.deploymentId ? `deployment-${notification.deploymentId}` : `offer-${notification.offerId}`,
    badge: unacknowledged,
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
  await recordPushAttempts(notification, { deliveries: [failed], settle: true, now });
}
