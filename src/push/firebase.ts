// The firebase-admin app for push: a project and a service account (inline JSON, or a key file).
// Without them, push is off.
import { randomUUID } from 'node:crypto';
import { cert, deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getMessaging, type Messaging } from 'firebase-admin/messaging';
import { RetryAfterAgent } from './retry-after.ts';
import { agentTo, serviceAccountCredential } from './staging-fcm.ts';

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
  /** An FCM-compatible endpoint instead of Google's (staging): see staging-fcm.ts. */
  apiUrl?: string;
}

/** A firebase-admin app of its own (several services may run in one process), or null when push is off. */
export function firebasePush({ projectId, serviceAccount, apiUrl }: FirebaseSettings): FirebasePush | null {
  if (!projectId || !serviceAccount) return null;
  // cert() first in both cases: it checks the key (a broken one stops the start).
  const credential = cert(serviceAccount as Parameters<typeof cert>[0]);
  // The agent sees every answer (FCM's Retry-After); with a staging double, it connects there.
  const agent = apiUrl ? agentTo(apiUrl) : new RetryAfterAgent();
  const options = apiUrl
    ? { credential: serviceAccountCredential(serviceAccount), projectId, httpAgent: agent }
    : { credential, projectId, httpAgent: agent };
  const app: App = initializeApp(options, `credit-push-${randomUUID()}`);
  return { messaging: getMessaging(app), retryAfter: agent.retryAfter, close: () => deleteApp(app) };
}
