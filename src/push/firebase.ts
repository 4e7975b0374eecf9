// The firebase-admin app for push, from the configuration: FCM_PROJECT_ID and a service account
// (inline JSON, or a key file). Without them, push is off.
import { randomUUID } from 'node:crypto';
import { cert, deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getMessaging, type Messaging } from 'firebase-admin/messaging';
import type { Config } from '../platform/config.ts';
import { RetryAfterAgent } from './retry-after.ts';

export interface FirebasePush {
  messaging: Messaging;
  /** The Retry-After of FCM's latest 429 (firebase-admin drops it from its errors). */
  retryAfter: () => number | null;
  close(): Promise<void>;
}

/** A firebase-admin app of its own (several services may run in one process), or null when push is off. */
export function firebasePushFromConfig(config: Config): FirebasePush | null {
  const serviceAccount = config.FCM_SERVICE_ACCOUNT_JSON ?? config.GOOGLE_APPLICATION_CREDENTIALS;
  if (!config.FCM_PROJECT_ID || !serviceAccount) return null;
  const agent = new RetryAfterAgent();
  const app: App = initializeApp(
    { credential: cert(serviceAccount as Parameters<typeof cert>[0]), projectId: config.FCM_PROJECT_ID, httpAgent: agent },
    `credit-push-${randomUUID()}`,
  );
  return { messaging: getMessaging(app), retryAfter: agent.retryAfter, close: () => deleteApp(app) };
}
