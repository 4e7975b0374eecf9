// Delivering a notification: in-app first, push as the fallback.
//
// The rule: a user with a live `notifications` subscription (in any API process) gets the
// notification in-app at once, and a push after `fallbackMs` unless they acknowledged it by then;
// a user with none gets the push at once. Each call looks at the notification as stored and takes
// the next step, so running it twice, or after a crash, neither skips nor repeats a delivery.
import { prisma, Prisma, type DeploymentEvent, type Device, type Notification, type NotificationDelivery, type Tx } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import { EVENT_COLUMNS } from './deployment-events.ts';
import { activeDevicesOf } from './devices.ts';
import { countDeliveries, countPushFallback } from './notification-metrics.ts';
import type { LiveUpdatesPort, PresenceCheck, PushMessage, PushSender } from './ports.ts';
import { UNACKNOWLEDGED } from './notifications.ts';

export interface DeliveryDeps {
  presence: PresenceCheck;
  liveUpdates: LiveUpdatesPort;
  push: PushSender;
  /** How long an in-app notification may stay unacknowledged before it is pushed too. */
  fallbackMs: number;
  logger: Logger;
}

export type DeliveryStep =
  /** Nothing more to do. */
  | { kind: 'done'; outcome: string }
  /** Delivered in-app: look again at `until` (the push fallback). */
  | { kind: 'wait'; until: Date }
  /** A push failed transiently: try again later (with backoff). */
  | { kind: 'retry'; error: string };

export interface ProgressOptions {
  /** On the last attempt, transient push failures are final. */
  finalAttempt?: boolean;
  now?: Date;
}

/** Takes the notification's next delivery step. */
export async function progressNotification(deps: DeliveryDeps, id: string, options: ProgressOptions = {}): Promise<DeliveryStep> {
  const now = options.now ?? new Date();
  const notification = await prisma.notification.findUnique({ where: { id } });
  if (!notification) return { kind: 'done', outcome: 'missing' };
  if (notification.status === 'ACKNOWLEDGED') return { kind: 'done', outcome: 'acknowledged' };
  if (notification.status === 'FAILED' || notification.pushSettledAt) return { kind: 'done', outcome: 'already-settled' };
  if (notification.status === 'PENDING' && (await deps.presence.isPresent(notification.userId))) {
    return deliverInApp(deps, notification, options, now);
  }
  if (notification.pushDueAt && notification.pushDueAt > now) return { kind: 'wait', until: notification.pushDueAt };
  return sendPush(deps, notification, options.finalAttempt ?? true, now);
}

/** Records the in-app delivery, then tells the user's live subscriptions (in any API process). */
async function deliverInApp(deps: DeliveryDeps, notification: Notification, options: ProgressOptions, now: Date): Promise<DeliveryStep> {
  const delivered = await deliverInAppAll([notification], now, deps.fallbackMs);
  // Acknowledged or delivered by someone else meanwhile: look again.
  if (delivered.ids.length === 0) return progressNotification(deps, notification.id, options);
  countDeliveries('IN_APP', ['SENT']);
  await announceInApp(deps, [notification], delivered.events);
  return { kind: 'wait', until: new Date(now.getTime() + deps.fallbackMs) };
}

/** Committed first, so subscribers read them as DELIVERED. A lost message is what the push fallback is for. */
async function announceInApp(deps: DeliveryDeps, notifications: readonly Pick<Notification, 'id' | 'userId'>[], events: DeploymentEvent[]) {
  await bestEffort(deps.logger, 'could not publish the in-app notification', () =>
    Promise.all(notifications.map((n) => deps.liveUpdates.publishNotification(n.userId, n.id))),
  );
  await bestEffort(deps.logger, 'could not publish the audit event', () => deps.liveUpdates.publishDeploymentEvents(events));
}

type NewDelivery = Pick<NotificationDelivery, 'status' | 'error' | 'deviceId' | 'providerMessageId'>;

/** Pushes to every valid device of the user not reached yet, one message each. */
async function sendPush(deps: DeliveryDeps, notification: Notification, finalAttempt: boolean, now: Date): Promise<DeliveryStep> {
  if (deps.push.disabledReason) {
    return recordPush(deps, notification, { deliveries: [skipped(deps.push.disabledReason)], settle: true, now });
  }
  const devices = await activeDevicesOf(notification.userId);
  const reached = new Set(
    (await prisma.notificationDelivery.findMany({
      where: { notificationId: notification.id, channel: 'PUSH', status: 'SENT' },
      select: { deviceId: true },
    })).map((d) => d.deviceId),
  );
  const targets = devices.filter((device) => !reached.has(device.id));
  if (devices.length === 0 && reached.size === 0) {
    return recordPush(deps, notification, { deliveries: [skipped('the user has no registered device')], settle: true, now });
  }

  // Each send is recorded before it goes out. One recorded with no answer after it was in doubt
  // (the process died during the send): it is sent once more, with the same collapse key, so the
  // phone replaces the first if it did arrive; after a second one in doubt, the device is let be.
  const doubt = await sendsInDoubt(notification.id);
  const sendable = targets.filter((device) => (doubt.get(device.id) ?? 0) < 2);
  const letBe = targets.filter((device) => (doubt.get(device.id) ?? 0) >= 2);
  for (const device of sendable.filter((d) => doubt.has(d.id))) {
    deps.logger.warn({ deviceId: device.id }, 'push left in doubt by an interrupted send: sending it once more, same collapse key');
  }
  if (sendable.length > 0) {
    await prisma.pushAttempt.createMany({ data: sendable.map((device) => ({ notificationId: notification.id, deviceId: device.id, startedAt: now })) });
  }
  const sent = await pushToDevices(deps, sendable, await pushMessage(notification));
  sent.deliveries.push(...letBe.map((device) => inDoubt(device.id)));
  const retry = sent.transientErrors.length > 0 && !finalAttempt;
  const step = await recordPush(deps, notification, {
    deliveries: sent.deliveries,
    invalidDevices: sent.invalidDevices,
    reachedBefore: reached.size,
    settle: !retry,
    now,
  });
  return retry ? { kind: 'retry', error: sent.transientErrors[0]! } : step;
}

/** One message per device, all at once; what each answer means for the device and the job. */
async function pushToDevices(deps: DeliveryDeps, devices: Device[], message: PushMessage) {
  const results = await Promise.all(devices.map(async (device) => ({ device, result: await deps.push.send(device.token, message) })));
  const deliveries: NewDelivery[] = [];
  const invalidDevices: { id: string; reason: string }[] = [];
  const transientErrors: string[] = [];
  for (const { device, result } of results) {
    const log = deps.logger.child({ deviceId: device.id, platform: device.platform });
    if (result.ok) {
      log.info({ messageId: result.messageId }, 'push sent');
      deliveries.push({ status: 'SENT', error: null, deviceId: device.id, providerMessageId: result.messageId });
      continue;
    }
    log.warn({ failure: result.failure, error: result.error }, 'push failed');
    deliveries.push({ status: 'FAILED', error: result.error, deviceId: device.id, providerMessageId: null });
    if (result.failure === 'invalid-token') invalidDevices.push({ id: device.id, reason: result.error });
    if (result.failure === 'transient') transientErrors.push(result.error);
  }
  return { deliveries, invalidDevices, transientErrors };
}

interface PushRecord {
  deliveries: NewDelivery[];
  invalidDevices?: { id: string; reason: string }[];
  /** Devices this notification reached on earlier attempts. */
  reachedBefore?: number;
  /** The push channel is done: never push this notification again. */
  settle: boolean;
  now: Date;
}

/**
 * Records the attempts, drops devices whose token is dead, and moves the notification on:
 * DELIVERED when any device got it; FAILED when nothing could deliver it and the push is settled.
 */
async function recordPush(deps: Pick<DeliveryDeps, 'liveUpdates' | 'logger'>, notification: Notification, record: PushRecord): Promise<DeliveryStep> {
  const sent = (record.reachedBefore ?? 0) + record.deliveries.filter((d) => d.status === 'SENT').length;
  const events = await prisma.$transaction(async (tx) => {
    for (const device of record.invalidDevices ?? []) {
      await tx.device.updateMany({
        where: { id: device.id, invalidatedAt: null },
        data: { invalidatedAt: record.now, invalidReason: device.reason },
      });
    }
    // One create per delivery (usually one): Prisma caches its plan, never createMany's.
    for (const delivery of record.deliveries) {
      await tx.notificationDelivery.create({ data: { ...delivery, notificationId: notification.id, channel: 'PUSH', at: record.now } });
    }
    if (record.settle) await tx.notification.update({ where: { id: notification.id }, data: { pushSettledAt: record.now } });
    if (sent === 0 && !record.settle) return [];
    // Leaves PENDING once (an in-app delivery or an acknowledgement may have come first).
    const [changed] = await tx.notification.updateManyAndReturn({
      where: { id: notification.id, status: 'PENDING' },
      data: { status: sent > 0 ? 'DELIVERED' : 'FAILED' },
    });
    return changed && sent > 0 ? recordNotified(tx, changed, { channel: 'PUSH', devices: sent }) : [];
  });
  countDeliveries('PUSH', record.deliveries.map((d) => d.status));
  // Settled once per notification; only an in-app delivery sets a push due time.
  if (record.settle && notification.pushDueAt) countPushFallback();
  await bestEffort(deps.logger, 'could not publish the audit event', () => deps.liveUpdates.publishDeploymentEvents(events));
  const outcome = sent > 0 ? 'pushed' : record.deliveries.every((d) => d.status === 'SKIPPED') ? 'push-skipped' : 'push-failed';
  return { kind: 'done', outcome };
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
  error: 'not sent again: two sends to this device were interrupted before the provider answered',
  deviceId,
  providerMessageId: null,
});

const skipped = (reason: string): NewDelivery => ({ status: 'SKIPPED', error: reason, deviceId: null, providerMessageId: null });

/**
 * Appends NOTIFIED to the deployment's audit trail when the user was first reached (offers have
 * no trail). The deployment keeps its final status; streams, which end at the first final event,
 * are unaffected. A notification that reached no one is not an event of the deployment: its
 * FAILED status and its deliveries say why.
 */
async function recordNotified(tx: Tx, notification: Notification, detail: Prisma.InputJsonObject): Promise<DeploymentEvent[]> {
  if (!notification.deploymentId) return [];
  return tx.$queryRaw<DeploymentEvent[]>`
    WITH n AS (SELECT ${notification.id}::uuid AS id, ${notification.deploymentId}::uuid AS deployment_id, ${notification.kind}::text AS kind),
    ${appendNotified(Prisma.sql`${JSON.stringify(detail)}::jsonb`)}
    SELECT * FROM events`;
}

/**
 * Two CTEs, `d` and `events`, appending NOTIFIED (with `detail`) to the trail of the deployment of
 * each row of a relation `n` (id, deployment_id, kind) of the statement. The deployment keeps its
 * status; its row lock orders the sequence.
 */
function appendNotified(detail: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    d AS (
      UPDATE credit_deployments cd SET last_sequence = cd.last_sequence + 1 FROM n WHERE cd.id = n.deployment_id
      RETURNING cd.id, cd.last_sequence, cd.status, cd.correlation_id, n.id AS notification_id, n.kind),
    events AS (
      INSERT INTO deployment_events (deployment_id, sequence, type, status, correlation_id, detail)
      SELECT id, last_sequence, 'NOTIFIED', status, correlation_id,
             jsonb_build_object('notificationId', notification_id::text, 'kind', kind::text) || ${detail}
        FROM d
      RETURNING ${EVENT_COLUMNS})`;
}

async function pushMessage(notification: Notification): Promise<PushMessage> {
  const unacknowledged = await prisma.notification.count({ where: { userId: notification.userId, ...UNACKNOWLEDGED } });
  return {
    notificationId: notification.id,
    kind: notification.kind,
    title: notification.title,
    body: notification.body,
    deepLink: notification.deepLink,
    collapseKey: notification.deploymentId ? `deployment-${notification.deploymentId}` : `offer-${notification.offerId}`,
    badge: unacknowledged,
  };
}

async function bestEffort(log: Logger, message: string, work: () => Promise<unknown>) {
  try {
    await work();
  } catch (error) {
    log.warn({ err: error }, message);
  }
}

/**
 * Settles a notification whose job gave up for a reason other than the push (e.g. the database
 * was unreachable on every attempt): the failure is recorded as a delivery, never dropped silently.
 */
export async function abandonNotification(deps: Pick<DeliveryDeps, 'liveUpdates' | 'logger'>, id: string, reason: string, now = new Date()) {
  const notification = await prisma.notification.findUnique({ where: { id } });
  if (!notification || notification.status === 'ACKNOWLEDGED' || notification.status === 'FAILED' || notification.pushSettledAt) return;
  // The user can read a delivery's error: the job's own reason (a driver's words, say) goes to the logs only.
  deps.logger.warn({ reason }, 'notification delivery abandoned: its job gave up');
  const failed: NewDelivery = {
    status: 'FAILED',
    error: 'delivery stopped: it could not be completed after repeated attempts',
    deviceId: null,
    providerMessageId: null,
  };
  await recordPush(deps, notification, { deliveries: [failed], settle: true, now });
}

/** A notification just created with its deployment's end (PENDING, never delivered). */
export type FreshNotification = Pick<Notification, 'id' | 'userId' | 'kind' | 'deploymentId'>;

/** Where the first step left a fresh notification; `push-due`: a push is to be sent now (by its job). */
export type FirstStep = Exclude<DeliveryStep, { kind: 'retry' }> | { kind: 'push-due' };

/**
 * The first step of several fresh notifications at once, as progressNotification would take it
 * for each, short of sending a push (over the network), in a few statements for them all: in-app
 * for the users present (answer `wait` until the push fallback), the push settled SKIPPED when
 * there is nothing to send it to (push off, no device: answer `done`), `push-due` when a push is
 * to be sent. A notification no longer PENDING (acknowledged meanwhile) gets no answer: its job
 * looks at it.
 */
export async function firstDeliverySteps(
  deps: DeliveryDeps,
  notifications: readonly FreshNotification[],
  now = new Date(),
): Promise<Map<string, FirstStep>> {
  const steps = new Map<string, FirstStep>();
  if (notifications.length === 0) return steps;
  const present = await Promise.all(notifications.map((n) => deps.presence.isPresent(n.userId)));
  const inApp = notifications.filter((_, i) => present[i]);
  const absent = notifications.filter((_, i) => !present[i]);
  const withDevices = deps.push.disabledReason || absent.length === 0 ? new Set<string>() : await usersWithDevices(absent.map((n) => n.userId));
  const toSkip = absent.filter((n) => !withDevices.has(n.userId));
  for (const n of absent) if (withDevices.has(n.userId)) steps.set(n.id, { kind: 'push-due' });
  const reason = deps.push.disabledReason ?? 'the user has no registered device';

  const [delivered, skippedIds] = await Promise.all([deliverInAppAll(inApp, now, deps.fallbackMs), skipPushAll(toSkip, reason, now)]);
  const pushDueAt = new Date(now.getTime() + deps.fallbackMs);
  for (const id of delivered.ids) steps.set(id, { kind: 'wait', until: pushDueAt });
  for (const id of skippedIds) steps.set(id, { kind: 'done', outcome: 'push-skipped' });
  if (delivered.ids.length > 0) countDeliveries('IN_APP', delivered.ids.map(() => 'SENT'));
  if (skippedIds.length > 0) countDeliveries('PUSH', skippedIds.map(() => 'SKIPPED'));
  await announceInApp(deps, inApp.filter((n) => delivered.ids.includes(n.id)), delivered.events);
  return steps;
}

async function usersWithDevices(userIds: string[]): Promise<Set<string>> {
  const rows = await prisma.$queryRaw<{ userId: string }[]>`
    SELECT DISTINCT user_id AS "userId" FROM devices WHERE user_id = ANY(${userIds}::text[]) AND invalidated_at IS NULL`;
  return new Set(rows.map((r) => r.userId));
}

/**
 * The in-app delivery of notifications still PENDING, in one statement: DELIVERED with the push
 * due, the IN_APP delivery, and NOTIFIED on the deployment's trail (offers have none). Returns the
 * notifications it delivered (those no longer PENDING are left alone) and the trail's events.
 */
async function deliverInAppAll(notifications: readonly Pick<Notification, 'id'>[], now: Date, fallbackMs: number) {
  if (notifications.length === 0) return { ids: [] as string[], events: [] as DeploymentEvent[] };
  const pushDueAt = new Date(now.getTime() + fallbackMs);
  const rows = await prisma.$queryRaw<(DeploymentEvent & { notificationId: string | null })[]>`
    WITH n AS (
      UPDATE notifications SET status = 'DELIVERED', push_due_at = ${pushDueAt}
       WHERE id = ANY(${notifications.map((n) => n.id)}::uuid[]) AND status = 'PENDING'
      RETURNING id, deployment_id, kind),
    delivery AS (
      INSERT INTO notification_deliveries (notification_id, channel, status, at) SELECT id, 'IN_APP', 'SENT', ${now} FROM n),
    ${appendNotified(Prisma.sql`jsonb_build_object('channel', 'IN_APP')`)}
    SELECT events.*, NULL::text AS "notificationId" FROM events
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, id::text FROM n`;
  return {
    ids: rows.flatMap((r) => (r.notificationId ? [r.notificationId] : [])),
    events: rows.filter((r) => r.notificationId === null).map(({ notificationId: _, ...event }) => event),
  };
}

/** As recordPush of a push skipped for `reason`, for several, in one statement. */
async function skipPushAll(notifications: readonly FreshNotification[], reason: string, now: Date): Promise<string[]> {
  if (notifications.length === 0) return [];
  const rows = await prisma.$queryRaw<{ id: string }[]>`
    WITH n AS (
      UPDATE notifications SET push_settled_at = ${now}, status = 'FAILED'
       WHERE id = ANY(${notifications.map((n) => n.id)}::uuid[]) AND status = 'PENDING' AND push_settled_at IS NULL
      RETURNING id)
    INSERT INTO notification_deliveries (notification_id, channel, status, at, error)
    SELECT id, 'PUSH', 'SKIPPED', ${now}, ${reason} FROM n
    RETURNING notification_id::text AS id`;
  return rows.map((r) => r.id);
}
