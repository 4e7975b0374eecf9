// The two streams an app holds: a deployment's timeline, resumed across reconnects with no gap and
// no duplicate, and the user's notifications, each acknowledged once the app has handled it.
import { backoffMs, DEFAULT_RETRY, sleep } from './backoff.ts';
import type { CreditClient } from './client.ts';
import { ApiRequestError, RETRYABLE_CODES } from './errors.ts';
import { CREDIT_DEPLOYMENT_STATUSES, enumValue, NOTIFICATION_KINDS, type EnumValue, type Known } from './enums.ts';
import type { PersistedDocument } from './persisted.ts';

export interface DeploymentUpdate {
  sequence: number;
  status: string;
}

export interface Followed<U> {
  /** Resolves when the deployment is final (the stream completes); rejects on an error that retrying cannot fix. */
  done: Promise<void>;
  stop(): void;
  /** The last sequence delivered. */
  readonly lastSequence: number;
  /** Each update is delivered once; `status` as a known value or `{ unknown }`. */
  readonly _update?: U;
}

/**
 * Follows a deployment: `onUpdate` gets each event once, in sequence order. After a reconnect (a
 * token's expiry, the network) the subscription is sent again with afterSequence = the last
 * sequence delivered, so the server replays exactly what was missed.
 */
export function followDeployment<U extends DeploymentUpdate, V extends { id: string; afterSequence?: number | null }>(
  client: CreditClient,
  document: PersistedDocument<{ creditDeployment: U }, V>,
  variables: V,
  onUpdate: (update: U & { knownStatus: EnumValue<Known<typeof CREDIT_DEPLOYMENT_STATUSES>> }) => void,
): Followed<U> {
  // The object the socket re-sends on every (re)subscription: kept at the last sequence delivered.
  const live = { ...variables } as V & { afterSequence?: number | null };
  let last = live.afterSequence ?? 0;
  let unsubscribe = () => {};
  let stopped = false;
  const done = new Promise<void>((resolve, reject) => {
    const start = (attempt: number) => {
      unsubscribe = client.subscribe(document, live, {
        next: ({ creditDeployment: update }) => {
          if (update.sequence <= last) return; // replayed after a resubscription: already delivered
          last = update.sequence;
          live.afterSequence = last;
          attempt = 0;
          onUpdate({ ...update, knownStatus: enumValue(update.status, CREDIT_DEPLOYMENT_STATUSES) });
        },
        error: (error) => {
          const retryable = error instanceof ApiRequestError && RETRYABLE_CODES.includes(error.code ?? '');
          if (!retryable || stopped) return reject(error);
          void sleep(backoffMs(attempt, DEFAULT_RETRY)).then(() => !stopped && start(attempt + 1));
        },
        complete: resolve,
      });
    };
    start(0);
  });
  return {
    done,
    stop() {
      stopped = true;
      unsubscribe();
    },
    get lastSequence() {
      return last;
    },
  };
}

export interface NotificationItem {
  id: string;
  kind: string;
}

/**
 * The user's notifications: `onNotification` handles each (its kind as a known value or
 * `{ unknown }`), then it is acknowledged, which stops the push that would otherwise follow.
 */
export function watchNotifications<N extends NotificationItem, A>(
  client: CreditClient,
  stream: PersistedDocument<{ notifications: N }, Record<string, never>>,
  acknowledge: PersistedDocument<A, { id: string }>,
  onNotification: (notification: N & { knownKind: EnumValue<Known<typeof NOTIFICATION_KINDS>> }) => void | Promise<void>,
  onError: (error: Error) => void = () => {},
): { stop(): void } {
  return {
    stop: client.subscribe(stream, {}, {
      next: ({ notifications: notification }) => {
        void (async () => {
          await onNotification({ ...notification, knownKind: enumValue(notification.kind, NOTIFICATION_KINDS) });
          await client.request(acknowledge, { id: notification.id });
        })().catch(onError);
      },
      error: onError,
      complete: () => {},
    }),
  };
}
