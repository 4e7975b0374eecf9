// One visible push per device and notification: a worker killed while FCM holds its answer to a
// send leaves the send in doubt; the next worker sends it at most once more, with the same
// collapse key (the phone replaces the first, if it arrived), and settles the delivery.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { FakeFcm, HOLD } from './support/fake-fcm.ts';
import { acceptOffer, issueOffer } from './support/fixtures.ts';
import { registerDevice } from './support/notification-fixtures.ts';
import { noQuietHours, OFFERS_OFF } from './support/notification-controls.ts';
import { killHard, spawnPushWorker, stopGracefully } from './support/processes.ts';
import { serviceForTests } from './support/service.ts';
import { waitUntil } from './support/wait.ts';

const fcm = new FakeFcm();
beforeAll(() => fcm.start());
afterAll(() => fcm.close());
// The API here; the workers are processes the test kills.
const service = serviceForTests({ worker: false });

const pushWorker = () => spawnPushWorker(fcm.listeningPort);

describe('a worker killed during a push', () => {
  it('the device gets at most two sends, both with the same collapse key, and the delivery is settled', { timeout: 120_000 }, async () => {
    const { offerId, userToken } = await issueOffer(service.url, { limitCents: 123_400 });
    // This is about the deployment's push: the offer's own notification stays out of FCM (no worker has run its job yet).
    await noQuietHours(service.url, userToken, OFFERS_OFF);
    const deviceToken = `in-doubt-${offerId}`;
    expect((await registerDevice(service.url, userToken, deviceToken)).__typename).toBe('RegisterDeviceSuccess');
    fcm.replyTo(deviceToken, HOLD);

    const first = pushWorker();
    let second: ChildProcess | null = null;
    try {
      const { deployment } = await acceptOffer(service.url, offerId, userToken);
      const held = await fcm.waitFor((r) => r.body?.message?.token === deviceToken, 60_000);
      await killHard(first);
      fcm.release(); // too late: the worker that asked is gone

      second = pushWorker();
      const notificationId = held.body.message.data.notificationId as string;
      const settled = await waitUntil(
        async () => (await prisma.notification.findUniqueOrThrow({ where: { id: notificationId } })).pushSettledAt,
        'the push to be settled',
        40_000,
      );
      expect(settled).toBeInstanceOf(Date);

      const sends = fcm.requests.filter((r) => r.body?.message?.token === deviceToken);
      expect(sends.length).toBeLessThanOrEqual(2);
      expect(sends.length).toBeGreaterThanOrEqual(1);
      const keys = sends.map((r) => [
        r.body.message.android.collapse_key,
        r.body.message.android.notification.tag,
        r.body.message.apns.headers['apns-collapse-id'],
      ]);
      expect(keys).toEqual(sends.map(() => Array(3).fill(`deployment-${deployment.id}`)));
      const deliveries = await prisma.notificationDelivery.findMany({ where: { notificationId, channel: 'PUSH' } });
      expect(deliveries.map((d) => d.status)).toEqual(['SENT']);
    } finally {
      await killHard(first);
      if (second) await stopGracefully(second);
    }
  });
});
