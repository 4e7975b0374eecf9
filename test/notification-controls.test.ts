// Notifications the user controls, end to end through the real API, worker and firebase-admin (to
// a local fake FCM): "you have an offer", per-category switches, quiet hours in the user's zone,
// visible reasons, device tokens' lifecycle, expiry reminders.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { remindExpiringOffers } from '../src/domain/offer-notifications.ts';
import { gql, newUserId, token, wsSubscribe } from './support/client.ts';
import { FakeFcm } from './support/fake-fcm.ts';
import { acceptOffer, issueOffer } from './support/fixtures.ts';
import {
  myNotifications,
  NOTIFICATIONS_SUBSCRIPTION,
  notificationProbesForTests,
  reader,
  registerDevice,
  waitForNotification,
} from './support/notification-fixtures.ts';
import { MY_PREFERENCES, noQuietHours, UNREGISTER_DEVICE, updatePreferences } from './support/notification-controls.ts';
import { serviceForTests } from './support/service.ts';
import { waitUntil } from './support/wait.ts';

// This file's timings (read when its service starts): a short release spread, reminders 60 s
// before expiry looked for often, and the stale-device cleanup every 200 ms.
Object.assign(process.env, {
  QUIET_HOURS_RELEASE_SPREAD_MS: '2000',
  OFFER_REMINDER_BEFORE_MS: '60000',
  OFFER_REMINDER_INTERVAL_MS: '200',
  DEVICE_CLEANUP_INTERVAL_MS: '200',
  DEVICE_STALE_AFTER_DAYS: '60',
});

const fcm = new FakeFcm();
beforeAll(() => fcm.start());
afterAll(() => fcm.close());
const service = serviceForTests(() => ({ messaging: fcm.messaging() }));
const probes = notificationProbesForTests();

const DELIVERY_FIELDS = 'channel status error reason scheduledFor at';
const WITH_REASONS = /* GraphQL */ `
  query Mine { me { notifications { id kind category status title body deepLink deliveries { ${DELIVERY_FIELDS} } } } }
`;

async function notificationsWithReasons(userToken: string) {
  const result = await gql(service.url, WITH_REASONS, {}, userToken);
  expect(result.errors).toBeUndefined();
  return result.data.me.notifications as any[];
}

const deviceToken = () => `fcm-token-${randomUUID()}`;

async function newUser(options: { devices?: string[]; quietHoursOff?: boolean } = { quietHoursOff: true }) {
  const userId = newUserId();
  const userToken = await token(userId);
  if (options.quietHoursOff !== false) await noQuietHours(service.url, userToken);
  for (const device of options.devices ?? []) await registerDevice(service.url, userToken, device);
  return { userId, userToken };
}

const pushFor = (kind: string, userDevice: string, timeoutMs?: number) =>
  fcm.waitFor((r) => r.body?.message?.token === userDevice && r.body?.message?.data?.kind === kind, timeoutMs);

describe('an offer issued', () => {
  it('gives one OFFER_RECEIVED in-app to a present user, in their language, with the offer deep link', async () => {
    const user = await newUser();
    const live = reader(wsSubscribe(service.url, NOTIFICATIONS_SUBSCRIPTION, {}, user.userToken));
    try {
      const first = live.next();
      await probes.presence.waitUntilPresent(user.userId);
      const { offerId } = await issueOffer(service.url, { userId: user.userId, limitCents: 420_000 });
      expect((await first).data.notifications).toMatchObject({
        kind: 'OFFER_RECEIVED',
        status: 'DELIVERED',
        title: 'Você tem uma nova oferta de crédito',
        body: 'Um limite de R$ 4.200,00 está disponível para você. Toque para ver a oferta.',
        deepLink: `app://credit/offers/${offerId}`,
        deliveries: [{ channel: 'IN_APP', status: 'SENT' }],
      });
    } finally {
      await live.close();
    }
    const mine = await notificationsWithReasons(user.userToken);
    expect(mine.map((n) => [n.kind, n.category])).toEqual([['OFFER_RECEIVED', 'OFFERS']]);
  });

  it("is pushed to an absent user, living no longer than the offer (Android ttl, APNs apns-expiration)", async () => {
    const device = deviceToken();
    const user = await newUser({ devices: [device] });
    const expiresAt = new Date(Date.now() + 3_600_000);
    const { offerId } = await issueOffer(service.url, { userId: user.userId, expiresAt });
    const push = await pushFor('OFFER_RECEIVED', device);
    expect(push.body.message.data.deepLink).toBe(`app://credit/offers/${offerId}`);
    const ttlSeconds = Number(/^([\d.]+)s$/.exec(push.body.message.android.ttl)?.[1]);
    expect(ttlSeconds).toBeGreaterThan(3_500);
    expect(ttlSeconds).toBeLessThanOrEqual(3_600);
    expect(push.body.message.apns.headers['apns-expiration']).toBe(String(Math.floor(expiresAt.getTime() / 1000)));
    // An offer is not urgent: no time-sensitive interruption on iOS.
    expect(push.body.message.apns.payload.aps['interruption-level']).toBeUndefined();
  });
});

describe('the user turns offer pushes off', () => {
  it('records the push SKIPPED with a reason the app can show, and the in-app delivery still arrives', async () => {
    const device = deviceToken();
    const user = await newUser({ devices: [device] });
    const off = await updatePreferences(service.url, user.userToken, { channels: [{ category: 'OFFERS', channel: 'PUSH', enabled: false }] });
    expect(off.preferences.channels).toContainEqual({ category: 'OFFERS', channel: 'PUSH', enabled: false, required: false });
    const live = reader(wsSubscribe(service.url, NOTIFICATIONS_SUBSCRIPTION, {}, user.userToken));
    try {
      const first = live.next();
      await probes.presence.waitUntilPresent(user.userId);
      await issueOffer(service.url, { userId: user.userId });
      const delivered = (await first).data.notifications;
      expect(delivered).toMatchObject({ kind: 'OFFER_RECEIVED', status: 'DELIVERED' });
      // Unacknowledged past the fallback delay: the push would be due, and is skipped.
      await probes.jobs.finished(delivered.id);
      const [stored] = await notificationsWithReasons(user.userToken);
      expect(stored.deliveries).toMatchObject([
        { channel: 'IN_APP', status: 'SENT', reason: null, error: null },
        {
          channel: 'PUSH',
          status: 'SKIPPED',
          reason: 'Você desativou este tipo de notificação neste canal.',
          error: 'Você desativou este tipo de notificação neste canal.',
          scheduledFor: null,
        },
      ]);
      expect(fcm.requestsFor(delivered.id)).toEqual([]);
    } finally {
      await live.close();
    }
  });
});

describe('preferences', () => {
  it('start as the defaults: everything on, quiet hours 22:00-08:00 in America/Sao_Paulo', async () => {
    const userToken = await token(newUserId());
    const result = await gql(service.url, MY_PREFERENCES, {}, userToken);
    expect(result.data.me.notificationPreferences).toEqual({
      timeZone: 'America/Sao_Paulo',
      quietHours: { enabled: true, start: '22:00', end: '08:00' },
      channels: [
        { category: 'OFFERS', channel: 'IN_APP', enabled: true, required: false },
        { category: 'OFFERS', channel: 'PUSH', enabled: true, required: false },
        { category: 'CREDIT_UPDATES', channel: 'IN_APP', enabled: true, required: true },
        { category: 'CREDIT_UPDATES', channel: 'PUSH', enabled: true, required: false },
        { category: 'ACCOUNT_NOTICES', channel: 'IN_APP', enabled: true, required: true },
        { category: 'ACCOUNT_NOTICES', channel: 'PUSH', enabled: true, required: true },
      ],
    });
  });

  it('refuse turning off a required setting, or an unknown zone, naming the field, and change nothing', async () => {
    const userToken = await token(newUserId());
    const before = (await gql(service.url, MY_PREFERENCES, {}, userToken)).data.me.notificationPreferences;
    const required = await updatePreferences(service.url, userToken, {
      timeZone: 'Europe/Berlin',
      channels: [{ category: 'CREDIT_UPDATES', channel: 'IN_APP', enabled: false }],
    });
    expect(required).toMatchObject({ __typename: 'ValidationError', field: 'input.channels.0.enabled' });
    const notice = await updatePreferences(service.url, userToken, { channels: [{ category: 'ACCOUNT_NOTICES', channel: 'PUSH', enabled: false }] });
    expect(notice).toMatchObject({ __typename: 'ValidationError', field: 'input.channels.0.enabled' });
    const zone = await updatePreferences(service.url, userToken, { timeZone: 'America/Atlantis' });
    expect(zone).toMatchObject({ __typename: 'ValidationError', field: 'input.timeZone' });
    const time = await updatePreferences(service.url, userToken, { quietHours: { enabled: true, start: '7pm', end: '08:00' } });
    expect(time).toMatchObject({ __typename: 'ValidationError', field: 'input.quietHours.start' });
    expect((await gql(service.url, MY_PREFERENCES, {}, userToken)).data.me.notificationPreferences).toEqual(before);
  });

  it('keep absent fields as they are', async () => {
    const userToken = await token(newUserId());
    await updatePreferences(service.url, userToken, { timeZone: 'America/New_York' });
    const next = await updatePreferences(service.url, userToken, { quietHours: { enabled: true, start: '23:00', end: '06:30' } });
    expect(next.preferences).toMatchObject({ timeZone: 'America/New_York', quietHours: { enabled: true, start: '23:00', end: '06:30' } });
  });
});

/** A quiet-hours window (UTC) that holds now and ends at the next whole minute at least 5 s away. */
function windowAroundNow() {
  const now = new Date();
  const end = new Date(Math.floor(now.getTime() / 60_000) * 60_000 + 60_000);
  if (end.getTime() - now.getTime() < 5_000) end.setTime(end.getTime() + 60_000);
  const start = new Date(end.getTime() - 3 * 60_000);
  const hhmm = (d: Date) => d.toISOString().slice(11, 16);
  return { start: hhmm(start), end: hhmm(end), endsAt: end };
}

describe('quiet hours', () => {
  it('hold an offer push until they end (plus the spread) and then send it; a deployment result goes at once; a held push whose offer was accepted is dropped', async () => {
    const window = windowAroundNow();
    const quiet = { timeZone: 'UTC', quietHours: { enabled: true, start: window.start, end: window.end } };
    const waiting = await newUser({ devices: [deviceToken()], quietHoursOff: false });
    const acting = await newUser({ devices: [deviceToken()], quietHoursOff: false });
    for (const user of [waiting, acting]) {
      expect((await updatePreferences(service.url, user.userToken, quiet)).__typename).toBe('UpdateNotificationPreferencesSuccess');
    }
    const waitingDevice = (await prisma.device.findFirstOrThrow({ where: { userId: waiting.userId } })).token;
    const actingDevice = (await prisma.device.findFirstOrThrow({ where: { userId: acting.userId } })).token;

    await issueOffer(service.url, { userId: waiting.userId });
    const { offerId } = await issueOffer(service.url, { userId: acting.userId });
    const held = await waitForNotification(service.url, waiting.userToken, (n) => n.deliveries.some((d: any) => d.status === 'DEFERRED'));
    const [deferred] = (await notificationsWithReasons(waiting.userToken)).find((n) => n.id === held.id).deliveries;
    expect(deferred).toMatchObject({ channel: 'PUSH', status: 'DEFERRED', reason: 'Guardada até o fim do seu horário de silêncio.', error: null });
    const scheduledFor = Date.parse(deferred.scheduledFor);
    expect(scheduledFor).toBeGreaterThanOrEqual(window.endsAt.getTime());
    expect(scheduledFor).toBeLessThan(window.endsAt.getTime() + 2_000);
    expect(held.status).toBe('PENDING');

    // The user acts during quiet hours: the answer is pushed at once, time-sensitive on iOS.
    await waitForNotification(service.url, acting.userToken, (n) => n.kind === 'OFFER_RECEIVED' && n.deliveries.length > 0);
    const accepted = await acceptOffer(service.url, offerId, acting.userToken);
    expect(accepted.__typename).toBe('AcceptOfferSuccess');
    const result = await pushFor('CREDIT_DEPLOYED', actingDevice);
    expect(result.body.message.apns.payload.aps['interruption-level']).toBe('time-sensitive');
    expect(Date.now()).toBeLessThan(window.endsAt.getTime());

    // At the end of the window (plus the spread): the waiting user's offer push goes.
    const released = await pushFor('OFFER_RECEIVED', waitingDevice, 90_000);
    expect(Date.now()).toBeGreaterThanOrEqual(scheduledFor);
    expect(released.body.message.data.notificationId).toBe(held.id);
    await probes.jobs.finished(held.id, 130_000);
    const after = (await notificationsWithReasons(waiting.userToken)).find((n) => n.id === held.id);
    expect(after.deliveries.map((d: any) => [d.channel, d.status])).toEqual([
      ['PUSH', 'DEFERRED'],
      ['PUSH', 'SENT'],
    ]);

    // The acting user's held offer push: the offer is no longer PENDING, so it is dropped, with the reason.
    const dropped = await waitForNotification(service.url, acting.userToken, (n) => n.kind === 'OFFER_RECEIVED' && n.deliveries.length === 2, 20_000);
    const droppedDeliveries = (await notificationsWithReasons(acting.userToken)).find((n) => n.id === dropped.id).deliveries;
    expect(droppedDeliveries.map((d: any) => [d.status, d.reason])).toEqual([
      ['DEFERRED', 'Guardada até o fim do seu horário de silêncio.'],
      ['SKIPPED', 'A oferta não está mais disponível, então o aviso não foi enviado.'],
    ]);
    expect(fcm.requestsFor(dropped.id)).toEqual([]);
  }, 180_000);
});

describe('devices', () => {
  it('unregisterDevice removes only the caller’s own token, idempotently; then no push is sent to it', async () => {
    const device = deviceToken();
    const user = await newUser({ devices: [device] });
    const stranger = await newUser();
    const unregister = async (userToken: string) => (await gql(service.url, UNREGISTER_DEVICE, { token: device }, userToken)).data.unregisterDevice;

    expect(await unregister(stranger.userToken)).toEqual({ __typename: 'UnregisterDeviceSuccess', removed: false });
    expect(await prisma.device.count({ where: { token: device } })).toBe(1);
    expect(await unregister(user.userToken)).toEqual({ __typename: 'UnregisterDeviceSuccess', removed: true });
    expect(await unregister(user.userToken)).toEqual({ __typename: 'UnregisterDeviceSuccess', removed: false });
    expect((await gql(service.url, UNREGISTER_DEVICE, { token: 'has space' }, user.userToken)).data.unregisterDevice).toMatchObject({
      __typename: 'ValidationError',
      field: 'token',
    });

    await issueOffer(service.url, { userId: user.userId });
    const skipped = await waitForNotification(service.url, user.userToken, (n) => n.status === 'FAILED');
    expect(skipped.deliveries).toMatchObject([{ channel: 'PUSH', status: 'SKIPPED', error: 'Nenhum aparelho seu está registrado para receber notificações push.' }]);
    expect(fcm.requests.filter((r) => r.body?.message?.token === device)).toEqual([]);
  });

  it('registerDevice sets lastSeenAt; tokens not seen for DEVICE_STALE_AFTER_DAYS are removed by the periodic job', async () => {
    const [stale, fresh] = [deviceToken(), deviceToken()];
    const user = await newUser({ devices: [stale, fresh] });
    const before = await prisma.device.findUniqueOrThrow({ where: { token: fresh } });
    await registerDevice(service.url, user.userToken, fresh);
    const after = await prisma.device.findUniqueOrThrow({ where: { token: fresh } });
    expect(after.lastSeenAt.getTime()).toBeGreaterThan(before.lastSeenAt.getTime());
    await prisma.device.update({ where: { token: stale }, data: { lastSeenAt: new Date(Date.now() - 61 * 86_400_000) } });
    await waitUntil(async () => (await prisma.device.count({ where: { token: stale } })) === 0, 'the stale token removed');
    expect(await prisma.device.count({ where: { token: fresh } })).toBe(1);
  });
});

describe('OFFER_EXPIRING', () => {
  it('reminds once of an offer still PENDING shortly before its expiry; not of a short-lived or an accepted one', async () => {
    const user = await newUser();
    const expiresAt = new Date(Date.now() + 45_000);
    const longLived = await issueOffer(service.url, { userId: user.userId, limitCents: 90_000, expiresAt });
    const other = await newUser();
    const accepted = await issueOffer(service.url, { userId: other.userId, expiresAt });
    const third = await newUser();
    const shortLived = await issueOffer(service.url, { userId: third.userId, expiresAt });
    expect((await acceptOffer(service.url, accepted.offerId, other.userToken)).__typename).toBe('AcceptOfferSuccess');
    // Issued long before (as a week-long offer would be); the accepted one was answered first.
    await prisma.creditOffer.updateMany({
      where: { id: { in: [longLived.offerId, accepted.offerId] } },
      data: { createdAt: new Date(Date.now() - 7 * 86_400_000) },
    });

    const reminder = await waitForNotification(service.url, user.userToken, (n) => n.kind === 'OFFER_EXPIRING');
    expect(reminder).toMatchObject({
      title: 'Sua oferta de crédito expira em breve',
      body: 'A oferta de limite de R$ 900,00 expira em breve. Toque para ver antes que acabe.',
      deepLink: `app://credit/offers/${longLived.offerId}`,
    });
    // Further runs (the periodic one, and one more here) make no second reminder.
    expect(await remindExpiringOffers(async () => {}, 60_000)).toBe(0);
    expect((await myNotifications(service.url, user.userToken)).filter((n) => n.kind === 'OFFER_EXPIRING')).toHaveLength(1);
    const forOther = await prisma.notification.count({ where: { offerId: { in: [accepted.offerId, shortLived.offerId] }, kind: 'OFFER_EXPIRING' } });
    expect(forOther).toBe(0);
  });
});
