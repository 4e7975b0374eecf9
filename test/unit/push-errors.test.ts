// What an FCM error means for the device and the job: drop the token, give up, or retry.
import { describe, expect, it } from 'vitest';
import { classifyPushError, fcmMessage } from '../../src/push/push-sender.ts';

const fcmError = (code: string, message = 'error') => Object.assign(new Error(message), { code });

describe('push error classification', () => {
  it('drops the device when the token is dead or malformed', () => {
    expect(classifyPushError(fcmError('messaging/registration-token-not-registered'))).toBe('invalid-token');
    expect(classifyPushError(fcmError('messaging/invalid-registration-token'))).toBe('invalid-token');
    expect(classifyPushError(fcmError('messaging/invalid-argument', 'The registration token is not a valid FCM registration token'))).toBe(
      'invalid-token',
    );
  });

  it('gives up on a message the provider will never accept', () => {
    expect(classifyPushError(fcmError('messaging/invalid-argument', 'Invalid JSON payload'))).toBe('rejected');
    expect(classifyPushError(fcmError('messaging/payload-size-limit-exceeded'))).toBe('rejected');
    expect(classifyPushError(fcmError('messaging/mismatched-credential'))).toBe('rejected');
  });

  it('retries outages, quotas and anything it does not know', () => {
    expect(classifyPushError(fcmError('messaging/internal-error'))).toBe('transient');
    expect(classifyPushError(fcmError('messaging/server-unavailable'))).toBe('transient');
    expect(classifyPushError(fcmError('messaging/message-rate-exceeded'))).toBe('transient');
    expect(classifyPushError(new Error('socket hang up'))).toBe('transient');
    expect(classifyPushError(undefined)).toBe('transient');
  });
});

describe('the FCM message', () => {
  it('collapses on Android and iOS with the same key, and carries only strings as data', () => {
    const message = fcmMessage('device-token', {
      notificationId: 'n1',
      kind: 'CREDIT_DEPLOYED',
      title: 'Title',
      body: 'Body',
      deepLink: 'app://credit/deployments/d1',
      collapseKey: 'deployment-d1',
      badge: 3,
      timeSensitive: false,
      expiresAt: null,
    });
    expect(message).toMatchObject({
      token: 'device-token',
      notification: { title: 'Title', body: 'Body' },
      data: { notificationId: 'n1', kind: 'CREDIT_DEPLOYED', deepLink: 'app://credit/deployments/d1' },
      android: { collapseKey: 'deployment-d1' },
      apns: { headers: { 'apns-collapse-id': 'deployment-d1' }, payload: { aps: { badge: 3 } } },
    });
    expect(Object.values((message as { data: Record<string, unknown> }).data).every((v) => typeof v === 'string')).toBe(true);
  });

  const offerPush = (expiresAt: Date | null, timeSensitive = false) => ({
    notificationId: 'n2',
    kind: 'OFFER_RECEIVED',
    title: 'Title',
    body: 'Body',
    deepLink: 'app://credit/offers/o1',
    collapseKey: 'offer-o1',
    badge: 1,
    timeSensitive,
    expiresAt,
  });

  it("lives no longer than the offer: Android ttl and APNs apns-expiration at the offer's expiry", () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    const message = fcmMessage('t', offerPush(new Date(now + 3 * 3_600_000)), now) as any;
    expect(message.android.ttl).toBe(3 * 3_600_000);
    expect(message.apns.headers['apns-expiration']).toBe(String(now / 1000 + 3 * 3600));
    expect(message.apns.payload.aps['interruption-level']).toBeUndefined();
  });

  it('caps the ttl at 28 days, and leaves the provider default when there is no expiry', () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    expect((fcmMessage('t', offerPush(new Date(now + 90 * 86_400_000)), now) as any).android.ttl).toBe(28 * 86_400_000);
    const plain = fcmMessage('t', offerPush(null), now) as any;
    expect(plain.android.ttl).toBeUndefined();
    expect(plain.apns.headers['apns-expiration']).toBeUndefined();
  });

  it('marks time-sensitive pushes for iOS', () => {
    expect((fcmMessage('t', offerPush(null, true)) as any).apns.payload.aps['interruption-level']).toBe('time-sensitive');
  });
});
