// Without FCM settings push is off: the service says so, and every delivery that needed a push
// is recorded SKIPPED with the reason, never silently dropped. (This file's service starts with
// the configuration of the test environment, which has no FCM variables.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newUserId, token, wsSubscribe } from './support/client.ts';
import { acceptOffer, issueOffer } from './support/fixtures.ts';
import {
  firstOfKind,
  myNotifications,
  NOTIFICATIONS_SUBSCRIPTION,
  notificationProbesForTests,
  registerDevice,
  waitForNotification,
} from './support/notification-fixtures.ts';
import { serviceForTests } from './support/service.ts';

const service = serviceForTests();
/** What the app shows (pt-BR, the default language); the operator's message is in the logs. */
const PUSH_NOT_CONFIGURED = 'As notificações push não estão disponíveis no momento.';
const probes = notificationProbesForTests();

async function userWithDevice() {
  const userId = newUserId();
  const userToken = await token(userId);
  await registerDevice(service.url, userToken, `fcm-token-${userId}`, 'IOS');
  const { offerId } = await issueOffer(service.url, { userId });
  return { userId, userToken, offerId };
}

describe('push not configured', () => {
  it('records the push SKIPPED with the reason, and the notification FAILED, for an absent user', async () => {
    const user = await userWithDevice();
    await acceptOffer(service.url, user.offerId, user.userToken);
    const notification = await waitForNotification(service.url, user.userToken, (n) => n.kind === 'CREDIT_DEPLOYED' && n.status !== 'PENDING');
    expect(notification).toMatchObject({
      status: 'FAILED',
      deliveries: [{ channel: 'PUSH', status: 'SKIPPED', error: PUSH_NOT_CONFIGURED }],
    });
  });

  it('keeps an in-app delivery DELIVERED and records the fallback push SKIPPED with the reason', async () => {
    const user = await userWithDevice();
    const live = wsSubscribe(service.url, NOTIFICATIONS_SUBSCRIPTION, {}, user.userToken);
    try {
      // The offer's OFFER_RECEIVED may reach the stream first if its job runs after it opens.
      const first = firstOfKind(live, 'CREDIT_DEPLOYED');
      await probes.presence.waitUntilPresent(user.userId);
      await acceptOffer(service.url, user.offerId, user.userToken);
      const delivered = await first;
      await probes.jobs.finished(delivered.id);
      const stored = (await myNotifications(service.url, user.userToken)).find((n: { id: string }) => n.id === delivered.id);
      expect(stored.status).toBe('DELIVERED');
      expect(stored.deliveries.map((d: any) => [d.channel, d.status, d.error])).toEqual([
        ['IN_APP', 'SENT', null],
        ['PUSH', 'SKIPPED', PUSH_NOT_CONFIGURED],
      ]);
    } finally {
      await live.return(undefined);
    }
  });
});
