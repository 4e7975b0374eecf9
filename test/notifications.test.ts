// Notifications end to end, through real clients: in-app first to a user with a live
// subscription, push through firebase-admin (to a local fake FCM) as the fallback.
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/platform/config.ts';
import { prisma } from '../src/platform/db.ts';
import { enqueueDeployment } from '../src/jobs/producers.ts';
import { DEPLOYMENT_QUEUE } from '../src/jobs/queues.ts';
import { createNotification } from '../src/domain/notifications.ts';
import { collect, engineToken, gql, newUserId, sseSubscribe, token, wsSubscribe } from './support/client.ts';
import { FakeFcm, FCM_ACCESS_TOKEN, FCM_PROJECT, INTERNAL, INVALID_TOKEN, UNREGISTERED } from './support/fake-fcm.ts';
import { acceptOffer, DEPLOYMENT, issueOffer, waitForFinal } from './support/fixtures.ts';
import {
  ACKNOWLEDGE,
  myNotifications,
  NOTIFICATIONS_SUBSCRIPTION,
  notificationProbesForTests,
  reader,
  registerDevice,
  waitForNotification,
} from './support/notification-fixtures.ts';
import { waitUntil } from './support/wait.ts';
import { noQuietHours, notAboutOffers, OFFERS_OFF } from './support/notification-controls.ts';
import { serviceForTests } from './support/service.ts';

const config = loadConfig();

const LATE_STREAM = /* GraphQL */ `
  subscription Watch($id: ID!) { creditDeployment(id: $id) { sequence type status } }
`;

const fcm = new FakeFcm();
beforeAll(() => fcm.start());
afterAll(() => fcm.close());
const service = serviceForTests(() => ({ messaging: fcm.messaging() }));
const probes = notificationProbesForTests();

const deviceToken = () => `fcm-token-${randomUUID()}`;

// What the app shows for a delivery, in the user's language (pt-BR by default).
const NO_DEVICE_TEXT = 'Nenhum aparelho seu está registrado para receber notificações push.';
const TOKEN_INVALID_TEXT = 'O aparelho não está mais registrado para notificações push e foi removido.';

/**
 * A fresh user with a token (optionally with a `locale` claim) and registered devices; no quiet
 * hours, and offer notifications off unless asked for (these tests are about other kinds).
 */
async function newUser(options: { devices?: string[]; locale?: string; offerPushes?: boolean } = {}) {
  const userId = newUserId();
  const userToken = await token(userId, ['customer'], options.locale ? { locale: options.locale } : {});
  await noQuietHours(service.url, userToken, options.offerPushes ? [] : OFFERS_OFF);
  for (const device of options.devices ?? []) {
    expect((await registerDevice(service.url, userToken, device)).__typename).toBe('RegisterDeviceSuccess');
  }
  return { userId, userToken };
}

/** Issues an offer to the user and accepts it; returns the deployment id. */
async function acceptNewOffer(user: { userId: string; userToken: string }, limitCents = 150_000) {
  const { offerId } = await issueOffer(service.url, { userId: user.userId, limitCents });
  const accepted = await acceptOffer(service.url, offerId, user.userToken);
  expect(accepted.__typename).toBe('AcceptOfferSuccess');
  return accepted.deployment.id as string;
}

const pushOf = (notificationId: string) => fcm.waitFor((r) => r.body?.message?.data?.notificationId === notificationId);

describe('a user with a live notifications subscription', () => {
  it('gets the notification in-app (WebSocket); acknowledged in time, it is never pushed', async () => {
    const user = await newUser({ devices: [deviceToken()] });
    const live = reader(wsSubscribe(service.url, NOTIFICATIONS_SUBSCRIPTION, {}, user.userToken));
    try {
      const first = live.next();
      await probes.presence.waitUntilPresent(user.userId);
      const deploymentId = await acceptNewOffer(user, 250_000);

      const delivered = (await first).data.notifications;
      expect(delivered).toMatchObject({
        kind: 'CREDIT_DEPLOYED',
        status: 'DELIVERED',
        title: 'Seu novo limite está disponível',
        body: 'Seu limite de crédito agora é de R$ 2.500,00.',
        deepLink: `app://credit/deployments/${deploymentId}`,
        acknowledgedAt: null,
        deliveries: [{ channel: 'IN_APP', status: 'SENT', error: null }],
      });
      const ack = await gql(service.url, ACKNOWLEDGE, { id: delivered.id }, user.userToken);
      expect(ack.data.acknowledgeNotification).toMatchObject({
        __typename: 'AcknowledgeNotificationSuccess',
        notification: { id: delivered.id, status: 'ACKNOWLEDGED' },
      });

      // The fallback check has run: nothing was pushed, and nothing more was recorded.
      await probes.jobs.finished(delivered.id);
      expect(fcm.requestsFor(delivered.id)).toEqual([]);
      const [stored] = await myNotifications(service.url, user.userToken);
      expect(stored).toMatchObject({ id: delivered.id, status: 'ACKNOWLEDGED', deliveries: [{ channel: 'IN_APP', status: 'SENT' }] });
      expect(stored.acknowledgedAt).not.toBeNull();
      expect(notAboutOffers(await myNotifications(service.url, user.userToken, true))).toEqual([]);
    } finally {
      await live.close();
    }
  });

  it('is pushed once when it stays unacknowledged past the fallback delay (SSE)', async () => {
    const device = deviceToken();
    const user = await newUser({ devices: [device] });
    const live = reader(sseSubscribe(service.url, NOTIFICATIONS_SUBSCRIPTION, {}, user.userToken));
    try {
      const first = live.next();
      await probes.presence.waitUntilPresent(user.userId);
      await acceptNewOffer(user);
      const delivered = (await first).data.notifications;
      expect(delivered).toMatchObject({ status: 'DELIVERED', deliveries: [{ channel: 'IN_APP', status: 'SENT' }] });

      const push = await pushOf(delivered.id);
      expect(push.body.message.token).toBe(device);
      await probes.jobs.finished(delivered.id);
      expect(fcm.requestsFor(delivered.id)).toHaveLength(1);

      const [stored] = await myNotifications(service.url, user.userToken);
      expect(stored.status).toBe('DELIVERED');
      expect(stored.deliveries.map((d: any) => [d.channel, d.status])).toEqual([
        ['IN_APP', 'SENT'],
        ['PUSH', 'SENT'],
      ]);
      const [inApp, pushed] = stored.deliveries;
      expect(Date.parse(pushed.at) - Date.parse(inApp.at)).toBeGreaterThanOrEqual(config.PUSH_FALLBACK_AFTER_MS);
    } finally {
      await live.close();
    }
  });

  it('records NOTIFIED in the audit trail; the deployment stays DEPLOYED and a late subscriber gets that newest event', async () => {
    const user = await newUser();
    const live = reader(wsSubscribe(service.url, NOTIFICATIONS_SUBSCRIPTION, {}, user.userToken));
    try {
      const first = live.next();
      await probes.presence.waitUntilPresent(user.userId);
      const deploymentId = await acceptNewOffer(user);
      const delivered = (await first).data.notifications;

      const deployment = (await gql(service.url, DEPLOYMENT, { id: deploymentId }, user.userToken)).data.creditDeployment;
      expect(deployment.status).toBe('DEPLOYED');
      expect(deployment.events.map((e: any) => [e.sequence, e.type, e.status])).toEqual([
        [1, 'QUEUED', 'QUEUED'],
        [2, 'PROCESSING_STARTED', 'PROCESSING'],
        [3, 'PROFILE_UPDATED', 'PROCESSING'],
        [4, 'DEPLOYED', 'DEPLOYED'],
        [5, 'NOTIFIED', 'DEPLOYED'],
      ]);
      expect(deployment.events[4].detail).toMatchObject({ notificationId: delivered.id, kind: 'CREDIT_DEPLOYED', channel: 'IN_APP' });

      const late = await collect(wsSubscribe(service.url, LATE_STREAM, { id: deploymentId }, user.userToken));
      expect(late.map((m) => m.data!.creditDeployment)).toEqual([{ sequence: 5, type: 'NOTIFIED', status: 'DEPLOYED' }]);
    } finally {
      await live.close();
    }
  });
});

describe('a user with no live subscription', () => {
  it('is pushed at once: one FCM v1 request per device, with notification, data, Android and APNs options', async () => {
    const device = deviceToken();
    const user = await newUser({ devices: [device] });
    const deploymentId = await acceptNewOffer(user, 123_456);
    const notification = await waitForNotification(service.url, user.userToken, (n) => n.kind === 'CREDIT_DEPLOYED');
    const push = await pushOf(notification.id);

    expect(push.method).toBe('POST');
    expect(push.path).toBe(`/v1/projects/${FCM_PROJECT}/messages:send`);
    expect(push.headers.authorization).toBe(`Bearer ${FCM_ACCESS_TOKEN}`);
    expect(push.body.message).toEqual({
      token: device,
      notification: { title: 'Seu novo limite está disponível', body: 'Seu limite de crédito agora é de R$ 1.234,56.' },
      data: { notificationId: notification.id, kind: 'CREDIT_DEPLOYED', deepLink: `app://credit/deployments/${deploymentId}` },
      android: { priority: 'high', collapse_key: `deployment-${deploymentId}`, notification: { sound: 'default', tag: `deployment-${deploymentId}` } },
      apns: {
        headers: { 'apns-collapse-id': `deployment-${deploymentId}`, 'apns-priority': '10' },
        // The badge counts the offer's notification too; a credit update breaks through Focus on iOS.
        payload: { aps: { sound: 'default', badge: 2, 'interruption-level': 'time-sensitive' } },
      },
    });

    await probes.jobs.finished(notification.id);
    const [stored] = await myNotifications(service.url, user.userToken);
    expect(stored.status).toBe('DELIVERED');
    expect(stored.deliveries).toEqual([{ channel: 'PUSH', status: 'SENT', at: expect.any(String), error: null }]);
    const events = (await gql(service.url, DEPLOYMENT, { id: deploymentId }, user.userToken)).data.creditDeployment.events;
    expect(events.at(-1)).toMatchObject({ type: 'NOTIFIED', status: 'DEPLOYED', detail: { channel: 'PUSH', devices: 1 } });
  });

  it('writes in English for a user whose token carries locale "en"', async () => {
    const device = deviceToken();
    const user = await newUser({ devices: [device], locale: 'en' });
    await acceptNewOffer(user, 99_900);
    const notification = await waitForNotification(service.url, user.userToken, (n) => n.kind === 'CREDIT_DEPLOYED');
    expect(notification).toMatchObject({ title: 'Your new credit limit is ready', body: 'Your credit limit is now R$ 999,00.' });
    const push = await pushOf(notification.id);
    expect(push.body.message.notification).toEqual({ title: 'Your new credit limit is ready', body: 'Your credit limit is now R$ 999,00.' });
  });

  it('writes in English when the accept is the first request whose token says locale "en"; a later token without one keeps it', async () => {
    const userId = newUserId(); // made by the offer's issue, with no language stored
    const english = await token(userId, ['customer'], { locale: 'en' });
    const firstOffer = await issueOffer(service.url, { userId, limitCents: 99_900 });
    expect((await acceptOffer(service.url, firstOffer.offerId, english)).__typename).toBe('AcceptOfferSuccess');
    const first = await waitForNotification(service.url, english, (n) => n.kind === 'CREDIT_DEPLOYED');
    expect(first).toMatchObject({ title: 'Your new credit limit is ready', body: 'Your credit limit is now R$ 999,00.' });

    const plain = await token(userId, ['customer']);
    const secondOffer = await issueOffer(service.url, { userId, limitCents: 120_000 });
    expect((await acceptOffer(service.url, secondOffer.offerId, plain)).__typename).toBe('AcceptOfferSuccess');
    const second = await waitForNotification(service.url, plain, (n) => n.kind === 'CREDIT_DEPLOYED' && n.id !== first.id);
    expect(second).toMatchObject({ title: 'Your new credit limit is ready', body: 'Your credit limit is now R$ 1.200,00.' });
  });

  it('with two devices, one unregistered: one push delivered, the dead device deleted and not tried again', async () => {
    const [dead, alive] = [deviceToken(), deviceToken()];
    fcm.replyTo(dead, UNREGISTERED);
    const user = await newUser({ devices: [dead, alive] });
    await acceptNewOffer(user);
    const first = await waitForNotification(service.url, user.userToken, (n) => n.kind === 'CREDIT_DEPLOYED');
    await probes.jobs.finished(first.id);

    expect(fcm.requestsFor(first.id).map((r) => [r.body.message.token, r.status])).toEqual(
      expect.arrayContaining([
        [dead, 404],
        [alive, 200],
      ]),
    );
    expect(fcm.requestsFor(first.id)).toHaveLength(2);
    const stored = (await myNotifications(service.url, user.userToken)).find((n) => n.id === first.id);
    expect(stored.status).toBe('DELIVERED');
    expect(stored.deliveries).toHaveLength(2);
    // Public words, never FCM's text (which is in the logs).
    expect(stored.deliveries.find((d: any) => d.status === 'FAILED').error).toBe(TOKEN_INVALID_TEXT);
    expect(stored.deliveries.filter((d: any) => d.status === 'SENT')).toHaveLength(1);

    // The next notification goes to the live device only.
    await acceptNewOffer(user, 300_000);
    const second = await waitForNotification(service.url, user.userToken, (n) => n.id !== first.id && n.kind === 'CREDIT_DEPLOYED');
    await probes.jobs.finished(second.id);
    expect(fcm.requestsFor(second.id).map((r) => r.body.message.token)).toEqual([alive]);
  });

  it('retries a push that failed transiently (500, then 200): one FAILED and one SENT delivery, one NOTIFIED', async () => {
    const device = deviceToken();
    fcm.replyTo(device, INTERNAL);
    const user = await newUser({ devices: [device] });
    const deploymentId = await acceptNewOffer(user);
    const notification = await waitForNotification(service.url, user.userToken, (n) => n.kind === 'CREDIT_DEPLOYED');
    await probes.jobs.finished(notification.id);

    expect(fcm.requestsFor(notification.id).map((r) => r.status)).toEqual([500, 200]);
    const [stored] = await myNotifications(service.url, user.userToken);
    expect(stored.status).toBe('DELIVERED');
    expect(stored.deliveries.map((d: any) => [d.channel, d.status])).toEqual([
      ['PUSH', 'FAILED'],
      ['PUSH', 'SENT'],
    ]);
    expect(stored.deliveries[0].error).toBe('O serviço de notificações push não estava disponível.');
    const events = (await gql(service.url, DEPLOYMENT, { id: deploymentId }, user.userToken)).data.creditDeployment.events;
    expect(events.filter((e: any) => e.type === 'NOTIFIED')).toHaveLength(1);
  });

  it.each([
    ['unregistered (404 UNREGISTERED)', UNREGISTERED],
    ['malformed (400 INVALID_ARGUMENT on the token)', INVALID_TOKEN],
  ])('fails the notification when its only device is %s, not retried; the device is deleted', async (_case, reply) => {
    const device = deviceToken();
    fcm.replyTo(device, reply);
    const user = await newUser({ devices: [device] });
    const deploymentId = await acceptNewOffer(user);
    const notification = await waitForNotification(service.url, user.userToken, (n) => n.kind === 'CREDIT_DEPLOYED');
    await probes.jobs.finished(notification.id);

    const [stored] = await myNotifications(service.url, user.userToken);
    expect(stored).toMatchObject({ status: 'FAILED', deliveries: [{ channel: 'PUSH', status: 'FAILED' }] });
    expect(stored.deliveries[0]).toMatchObject({ error: TOKEN_INVALID_TEXT });
    expect(fcm.requestsFor(notification.id)).toHaveLength(1);
    expect(await prisma.device.count({ where: { token: device } })).toBe(0);
    // Reaching no one is not an event of the deployment: no NOTIFIED.
    const events = (await gql(service.url, DEPLOYMENT, { id: deploymentId }, user.userToken)).data.creditDeployment.events;
    expect(events.at(-1)).toMatchObject({ type: 'DEPLOYED', status: 'DEPLOYED' });

    await acceptNewOffer(user);
    const next = await waitForNotification(
      service.url,
      user.userToken,
      (n) => n.kind === 'CREDIT_DEPLOYED' && n.id !== notification.id && n.status === 'FAILED',
    );
    expect(next.deliveries).toMatchObject([{ channel: 'PUSH', status: 'SKIPPED', error: NO_DEVICE_TEXT }]);
  });

  it('without any device: the push is SKIPPED with the reason, the notification FAILED', async () => {
    const user = await newUser();
    await acceptNewOffer(user);
    const notification = await waitForNotification(service.url, user.userToken, (n) => n.kind === 'CREDIT_DEPLOYED' && n.status === 'FAILED');
    expect(notification.deliveries).toEqual([
      { channel: 'PUSH', status: 'SKIPPED', at: expect.any(String), error: NO_DEVICE_TEXT },
    ]);
    expect(fcm.requestsFor(notification.id)).toEqual([]);
  });
});

describe('a deployment that fails', () => {
  it('notifies CREDIT_DEPLOYMENT_FAILED when the offered limit is below the credit in use', async () => {
    const device = deviceToken();
    const user = await newUser({ devices: [device] });
    const firstDeployment = await acceptNewOffer(user, 100_000);
    await waitForFinal(service.url, firstDeployment, user.userToken);
    const sync = await gql(
      service.url,
      `mutation($input: SyncCreditUsageInput!) { syncCreditUsage(input: $input) { __typename } }`,
      { input: { userId: user.userId, usedCents: 90_000 } },
      await engineToken(),
    );
    expect(sync.data.syncCreditUsage.__typename).toBe('SyncCreditUsageSuccess');

    const failedDeployment = await acceptNewOffer(user, 50_000);
    expect((await waitForFinal(service.url, failedDeployment, user.userToken)).status).toBe('FAILED');
    const notification = await waitForNotification(service.url, user.userToken, (n) => n.kind === 'CREDIT_DEPLOYMENT_FAILED');
    expect(notification).toMatchObject({
      title: 'Não foi possível liberar seu novo limite',
      body: 'Não conseguimos aplicar o limite de R$ 500,00. Toque para ver os detalhes.',
      deepLink: `app://credit/deployments/${failedDeployment}`,
    });
    const push = await pushOf(notification.id);
    expect(push.body.message.data).toEqual({
      notificationId: notification.id,
      kind: 'CREDIT_DEPLOYMENT_FAILED',
      deepLink: `app://credit/deployments/${failedDeployment}`,
    });
  });
});

describe('exactly one notification per event', () => {
  it('holds when the deployment job and the notification job each run twice', async () => {
    const user = await newUser({ devices: [deviceToken()] });
    const deploymentId = await acceptNewOffer(user);
    const notification = await waitForNotification(service.url, user.userToken, (n) => n.kind === 'CREDIT_DEPLOYED');
    await probes.jobs.finished(notification.id);

    // The deployment job again (a crash after its commit): it finds the deployment final.
    const deployments = new Queue(DEPLOYMENT_QUEUE, { connection: probes.jobs.queue.opts.connection, prefix: config.REDIS_PREFIX });
    try {
      await deployments.remove(deploymentId);
      await enqueueDeployment(deployments, { deploymentId, correlationId: 'rerun' });
      await waitUntil(async () => (await deployments.getJob(deploymentId))?.isCompleted(), 'the repeated deployment job');
    } finally {
      await deployments.close();
    }
    // The notification job again: the notification is settled.
    await probes.jobs.runAgain({ notificationId: notification.id, correlationId: 'rerun' });
    expect(await probes.jobs.finished(notification.id)).toBe('already-settled');

    const all = notAboutOffers(await myNotifications(service.url, user.userToken));
    expect(all.map((n) => n.id)).toEqual([notification.id]);
    expect(all[0].deliveries).toHaveLength(1);
    expect(fcm.requestsFor(notification.id)).toHaveLength(1);
    const events = (await gql(service.url, DEPLOYMENT, { id: deploymentId }, user.userToken)).data.creditDeployment.events;
    expect(events.filter((e: any) => e.type === 'NOTIFIED')).toHaveLength(1);
  });
});

describe('the reconciler', () => {
  it('delivers a notification whose job never reached Redis', async () => {
    const device = deviceToken();
    const user = await newUser({ devices: [device], offerPushes: true });
    const { offerId } = await issueOffer(service.url, { userId: user.userId });
    // As if Redis had been down after the commit: a notification in Postgres, no job.
    const created = await prisma.$transaction((tx) =>
      createNotification(tx, {
        userId: user.userId,
        kind: 'OFFER_EXPIRED',
        subject: { offerId },
        amount: { cents: 10_000n, currency: 'BRL' },
        correlationId: 'lost-job',
      }),
    );
    expect(created).not.toBeNull();
    const push = await pushOf(created!.id);
    expect(push.body.message.token).toBe(device);
  });
});

describe('registerDevice', () => {
  it('refuses empty, oversized and malformed tokens', async () => {
    const user = await newUser();
    for (const bad of ['', 'x'.repeat(4097), 'has space']) {
      expect(await registerDevice(service.url, user.userToken, bad)).toMatchObject({ __typename: 'ValidationError', field: 'token' });
    }
  });

  it('needs a token', async () => {
    const result = await gql(service.url, `mutation { registerDevice(token: "t", platform: IOS) { __typename } }`);
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refreshes a known token, and moves a token registered by another user to that user', async () => {
    const shared = deviceToken();
    const previousOwner = await newUser({ devices: [shared] });
    const again = await registerDevice(service.url, previousOwner.userToken, shared, 'IOS');
    expect(again.device.platform).toBe('IOS');

    const newOwner = await newUser({ devices: [shared] });
    await acceptNewOffer(newOwner);
    const forNewOwner = await waitForNotification(service.url, newOwner.userToken, (n) => n.kind === 'CREDIT_DEPLOYED');
    expect((await pushOf(forNewOwner.id)).body.message.token).toBe(shared);

    await acceptNewOffer(previousOwner);
    const forPreviousOwner = await waitForNotification(
      service.url,
      previousOwner.userToken,
      (n) => n.kind === 'CREDIT_DEPLOYED' && n.status === 'FAILED',
    );
    expect(forPreviousOwner.deliveries[0]).toMatchObject({ status: 'SKIPPED', error: NO_DEVICE_TEXT });
  });
});

describe('acknowledgeNotification', () => {
  it("is the owner's only, and idempotent", async () => {
    const user = await newUser();
    await acceptNewOffer(user);
    const notification = await waitForNotification(service.url, user.userToken, (n) => n.kind === 'CREDIT_DEPLOYED');

    const stranger = await token(newUserId('stranger'));
    expect((await gql(service.url, ACKNOWLEDGE, { id: notification.id }, stranger)).data.acknowledgeNotification.__typename).toBe('NotFoundError');
    expect((await gql(service.url, ACKNOWLEDGE, { id: 'not-a-uuid' }, user.userToken)).data.acknowledgeNotification.__typename).toBe('NotFoundError');

    const first = (await gql(service.url, ACKNOWLEDGE, { id: notification.id }, user.userToken)).data.acknowledgeNotification;
    const second = (await gql(service.url, ACKNOWLEDGE, { id: notification.id }, user.userToken)).data.acknowledgeNotification;
    expect(first.notification.status).toBe('ACKNOWLEDGED');
    expect(second.notification).toEqual(first.notification);
  });
});

describe('the notifications subscription', () => {
  it('needs a token', async () => {
    const messages = await collect(sseSubscribe(service.url, NOTIFICATIONS_SUBSCRIPTION, {}));
    expect(messages[0]?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
