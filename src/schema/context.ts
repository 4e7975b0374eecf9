// What every resolver gets: who is calling, where from, a logger carrying the correlation id,
// and the process's realtime and queue handles.
import type { AuthResult } from '../domain/viewer.ts';
import type { ConsentKey } from '../domain/consent-evidence.ts';
import type { DeploymentQueue, NotificationQueue } from '../jobs/queues.ts';
import type { Logger } from '../platform/logger.ts';
import type { OfferCaps, RequestOrigin } from '../domain/offers.ts';
import type { LimitChangeSettings } from '../domain/limit-changes.ts';
import type { Presence } from '../realtime/presence.ts';
import type { LiveUpdates } from '../realtime/live-updates.ts';

/** Configured caps on what callers may ask for. */
export interface InputCaps {
  offers: OfferCaps;
  maxDevicesPerUser: number;
}

export interface Services {
  liveUpdates: LiveUpdates;
  deploymentQueue: DeploymentQueue;
  /** For the notification of an offer issued (its job takes the first delivery step). */
  notificationQueue: NotificationQueue;
  /** Who has a live `notifications` subscription, across API processes. */
  presence: Presence;
  caps: InputCaps;
  notifications: { offersPushDefault: boolean };
  /** Seals the consent evidence of every acceptance. */
  consentKey: ConsentKey;
  /** The notice a limit decrease needs. */
  limitChanges: LimitChangeSettings;
}

export interface Context {
  auth: AuthResult;
  origin: RequestOrigin;
  log: Logger;
  services: Services;
}
