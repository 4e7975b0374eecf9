// The firebase-admin app for push: a project and a service account (inline JSON, or a key file).
// Without them, push is off.
import { randomUUID } from 'node:crypto';
import { cert, deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getMessaging, type Messaging } from 'firebase-admin/messaging';
import { RetryAfterAgent } from './retry-after.ts';

export interface FirebasePush {
  messaging: Messaging;
  /** The Retry-After of FCM's latest 429 (firebase-admin drops it from its errors). */
  retryAfter: () => number | null;
  close(): Promise<void>;
}

export interface FirebaseSettings {
  projectId?: string;
  /** A service account key (its JSON, parsed) or the path of its file. */
  serviceAccount?: object | string;
}

/** A firebase-admin app of its own (several services may run in one process), or null when push is off. */
export function firebasePush({ projectId, serviceAccount }: FirebaseSettings): FirebasePush | null {
  if (!projectId || !serviceAccount) return null;
  const agent = new RetryAfterAgent();
  const app: App = initializeApp(
    { credential: cert(serviceAccount as Parameters<typeof cert>[0]), projectId, httpAgent: agent },
    `credit-push-${randomUUID()}`,
  );
  return { messaging: getMessaging(app), retryAfter: agent.retryAfter, close: () => deleteApp(app) };
}
