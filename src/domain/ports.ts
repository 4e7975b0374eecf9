// What the domain needs from outside, as small interfaces: the layers above implement them
// (realtime: presence; push: the FCM sender), so the rules never import a transport. The domain
// never publishes or enqueues: it returns what it committed, and what follows the commit has its
// owners (src/jobs/after-commit.ts; the outbox relay and replay in src/events/).

/** Whether a user has a live `notifications` subscription in any API process. */
export interface PresenceCheck {
  isPresent(userId: string): Promise<boolean>;
}

export interface PushMessage {
  notificationId: string;
  kind: string;
  title: string;
  body: string;
  deepLink: string;
  /** A newer push with the same key replaces an older one still on the device. */
  collapseKey: string;
  /** The app icon's badge (iOS): the user's unacknowledged notifications. */
  badge: number;
  /** iOS `interruption-level: time-sensitive` (it breaks through Focus; the app needs Apple's entitlement). */
  timeSensitive: boolean;
  /** After this the provider drops the message if still undelivered (Android ttl, APNs apns-expiration); null: the provider's default. */
  expiresAt: Date | null;
}

/**
 * Why a send failed, which decides what happens next: `invalid-token` drops the device and is
 * never retried; `rejected` (a message the provider will never accept) is not retried either;
 * `transient` (provider down, quota, network) is retried with backoff.
 */
export type PushFailure = 'invalid-token' | 'rejected' | 'transient';

/** `error` is the provider's own text: for the logs only, never stored or served. */
export type PushResult = { ok: true; messageId: string } | { ok: false; failure: PushFailure; error: string };

export interface PushSender {
  /** Null when push is on; otherwise why it is off (recorded on every skipped delivery). */
  readonly disabledReason: string | null;
  send(token: string, message: PushMessage): Promise<PushResult>;
}
