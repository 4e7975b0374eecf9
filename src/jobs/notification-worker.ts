// Worker wiring for notifications: the delivery worker, the offer expiry scheduler and its
// worker, and the notification reconciler, with their connections and shutdown.
import { config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Presence } from '../realtime/presence.ts';
import type { Realtime } from '../realtime/pubsub.ts';
import type { PushSender } from '../realtime/push-sender.ts';
import { createDeliverNotificationProcessor } from './deliver-notification.ts';
import { createExpireOffersProcessor } from './expire-offers.ts';
import {
  NOTIFICATION_QUEUE,
  OFFER_EXPIRY_QUEUE,
  scheduleOfferExpiry,
  type NotificationJob,
  type NotificationQueue,
  type OfferExpiryQueue,
} from './queues.ts';
import { startQueueWorker } from './queue-worker.ts';
import { createNotificationReconciler, startReconciler } from './reconciler.ts';

export interface NotificationWorkerDeps {
  notificationQueue: NotificationQueue;
  offerExpiryQueue: OfferExpiryQueue;
  realtime: Realtime;
  presence: Pick<Presence, 'isPresent'>;
  push: PushSender;
  logger: Logger;
}

export function startNotificationWorker({ notificationQueue, offerExpiryQueue, realtime, presence, push, logger }: NotificationWorkerDeps) {
  const log = logger.child({ component: 'notification-worker' });
  const processor = createDeliverNotificationProcessor({ realtime, presence, push, fallbackMs: config.PUSH_FALLBACK_AFTER_MS, logger: log });
  const deliveryWorker = startQueueWorker<NotificationJob, string>(NOTIFICATION_QUEUE, processor, log);
  const expiryLog = logger.child({ component: 'offer-expiry' });
  const expiryProcessor = createExpireOffersProcessor({ notificationQueue, logger: expiryLog });
  const expiryWorker = startQueueWorker(OFFER_EXPIRY_QUEUE, expiryProcessor, expiryLog, 1);
  // Every worker upserts the same scheduler, on the reconciler's first run (at once); when Redis
  // is down then, the next runs try again. The start itself never waits for Redis.
  let scheduled = false;
  const ensureScheduled = async () => {
    if (scheduled) return;
    await scheduleOfferExpiry(offerExpiryQueue, config.OFFER_EXPIRY_INTERVAL_MS);
    scheduled = true;
  };

  const reconcileNotifications = createNotificationReconciler({
    queue: notificationQueue,
    realtime,
    logger: log,
    graceMs: config.RECONCILE_GRACE_MS,
  });
  const reconcile = async () => {
    await ensureScheduled();
    return reconcileNotifications();
  };
  const reconciler = startReconciler(reconcile, config.RECONCILE_INTERVAL_MS, log);

  return {
    /** Stops taking jobs and waits for the running ones to finish. */
    async close() {
      await reconciler.stop();
      await Promise.all([deliveryWorker.close(), expiryWorker.close()]);
    },
  };
}
