// Push through Firebase Cloud Messaging (HTTP v1), one message per device: the domain's PushSender. The sender is made
// from a firebase-admin `Messaging` (or null: push is off), so tests can give it a real
// firebase-admin app that talks to a local fake FCM server.
import type { Message, Messaging } from 'firebase-admin/messaging';
import type { PushFailure, PushMessage, PushSender } from '../domain/ports.ts';
import { counter } from '../platform/metrics.ts';

export const PUSH_NOT_CONFIGURED =
  'push is not configured: set FCM_PROJECT_ID and GOOGLE_APPLICATION_CREDENTIALS or FCM_SERVICE_ACCOUNT_JSON';

const INVALID_TOKEN = new Set(['messaging/registration-token-not-registered', 'messaging/invalid-registration-token']);
const REJECTED = new Set([
  'messaging/invalid-argument',
  'messaging/invalid-payload',
  'messaging/invalid-data-payload-key',
  'messaging/payload-size-limit-exceeded',
  'messaging/invalid-options',
  'messaging/mismatched-credential',
  'messaging/invalid-package-name',
  'messaging/third-party-auth-error',
]);

export function classifyPushError(error: unknown): PushFailure {
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : '';
  if (typeof code !== 'string') return 'transient';
  if (INVALID_TOKEN.has(code)) return 'invalid-token';
  // FCM answers a malformed token with INVALID_ARGUMENT naming the token; other invalid arguments are about the message.
  if (code === 'messaging/invalid-argument' && /registration token|message\.token/i.test(message)) return 'invalid-token';
  return REJECTED.has(code) ? 'rejected' : 'transient';
}

/** Android keeps an undelivered message at most 28 days. */
const MAX_TTL_MS = 28 * 86_400_000;

/**
 * The FCM v1 message for one device: notification, string-only data, Android and APNs options.
 * A message with an expiry (an offer's push) carries it as Android's ttl and APNs' apns-expiration,
 * so the provider drops it when the phone comes back after the offer ended.
 */
export function fcmMessage(token: string, push: PushMessage, now = Date.now()): Message {
  const ttlMs = push.expiresAt ? Math.min(MAX_TTL_MS, Math.max(0, push.expiresAt.getTime() - now)) : null;
  return {
    token,
    notification: { title: push.title, body: push.body },
    data: { notificationId: push.notificationId, kind: push.kind, deepLink: push.deepLink },
    // The same key on every send of a notification: a resend replaces what the phone shows
    // (Android: collapse key and notification tag; iOS: apns-collapse-id).
    android: {
      priority: 'high',
      collapseKey: push.collapseKey,
      notification: { sound: 'default', tag: push.collapseKey },
      ...(ttlMs !== null ? { ttl: ttlMs } : {}),
    },
    apns: {
      headers: {
        'apns-collapse-id': push.collapseKey,
        'apns-priority': '10',
        ...(ttlMs !== null ? { 'apns-expiration': String(Math.floor((now + ttlMs) / 1000)) } : {}),
      },
      payload: {
        aps: {
          sound: 'default',
          badge: push.badge,
          // Breaks through Focus on iOS 15+; needs the app's time-sensitive entitlement.
          ...(push.timeSensitive ? { 'interruption-level': 'time-sensitive' } : {}),
        },
      },
    },
  };
}

const pushErrors = counter({
  name: 'credit_push_errors_total',
  help: 'FCM sends that failed, by FCM error code',
  labelNames: ['code'],
});

export function createPushSender(messaging: Messaging | null, disabledReason = PUSH_NOT_CONFIGURED): PushSender {
  if (!messaging) {
    return {
      disabledReason,
      send: () => Promise.reject(new Error(disabledReason)),
    };
  }
  return {
    disabledReason: null,
    async send(token, push) {
      try {
        // send() is the HTTP/1.1 path (it honours the app's httpAgent); sendEach* use HTTP/2.
        return { ok: true, messageId: await messaging.send(fcmMessage(token, push)) };
      } catch (error) {
        const code = (error as { code?: unknown })?.code;
        const text = error instanceof Error ? error.message : String(error);
        pushErrors.inc({ code: typeof code === 'string' ? code : 'unknown' });
        return { ok: false, failure: classifyPushError(error), error: typeof code === 'string' ? `${code}: ${text}` : text };
      }
    },
  };
}
