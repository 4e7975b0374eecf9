// Worker wiring for notifications: the delivery worker, the offer expiry scheduler and its
// worker, the notification reconciler, the offer reminders and the stale-device cleanup, with
// their connections and shutdown.
import type { Job } from 'bullmq';
import type { DeliveryDeps } from '../domain/notification-delivery.ts';
import type { OfferExpirySettings } from '../domain/offer-expiry.ts';
import type { Logger } from '../platform/logger.ts';
import type { AfterCommit } from './after-commit.ts';
import { createDeliverNotificationProcessor } from './deliver-notification.ts';
import { createNotificationBatcher } from './notification-batcher.ts';
import { createExpireOffersProcessor } from './expire-offers.ts';
import { createFirstStepsProcessor } from './first-steps.ts';
import {
  FIRST_STEPS,
  NOTIFICATION_QUEUE,
  OFFER_EXPIRY_QUEUE,
  scheduleOfferExpiry,
  type NotificationBatchJob,
  type NotificationJob,
  type NotificationQueue,
  type OfferExpiryQueue,
} from './queues.ts';
import { startQueueWorker, type WorkerSettings } from './queue-worker.ts';
import { startPeriodic } from './periodic.ts';
import { createNotificationReconciler, type ReconcileSettings } from './reconciler.ts';
import { createOfferReminders } from './offer-reminders.ts';
import { createStaleDeviceCleanup } from './stale-devices.ts';
import { createLimitChangeRunner } from './limit-changes.ts';

export interface NotificationWorkerSettings extends WorkerSettings, ReconcileSettings {
  /** Notification jobs run at once (NOTIFICATION_CONCURRENCY): they share their batches' statements. */
  notificationConcurrency: number;
  /** How often PENDING offers past their expiry are expired. */
  offerExpiryIntervalMs: number;
  /** How the expiry sweep cuts its work: batch size, pause between batches. */
  offerExpiry: OfferExpirySettings;
  /** OFFER_EXPIRING reminders (how long before the expiry, and how often they are looked for). */
  offerReminderBeforeMs: number;
  offerReminderIntervalMs: number;
  /** Device tokens not seen for this long are removed, looked for every interval. */
  deviceStaleAfterMs: number;
  deviceCleanupIntervalMs: number;
  /** How often due limit changes are looked for, and how long before a temporary increase ends its reminder goes. */
  limitChangeIntervalMs: number;
  temporaryLimitReminderBeforeMs: number;
}

export interface NotificationWorkerDeps {
  notificationQueue: NotificationQueue;
  offerExpiryQueue: OfferExpiryQueue;
  afterCommit: AfterCommit;
  delivery: DeliveryDeps;
  logger: Logger;
  settings: NotificationWorkerSettings;
}

/**
 * Notification batches of one process in flight at once, and first-steps jobs running at once:
 * what the notification worker's connections are bounded by, whatever its jobs in flight.
 */
const BATCHES_IN_FLIGHT = 4;

export function startNotificationWorker(deps: NotificationWorkerDeps) {
  const { notificationQueue, offerExpiryQueue, afterCommit, delivery, logger, settings } = deps;
  const log = logger.child({ component: 'notification-worker' });
  // Every job the worker runs at once may join one batch. A campaign's jobs wait in flight for the
  // push bucket's tokens, so the jobs in flight, not the database, set how many share a batch:
  // at 16 a worker the batches of a push at 25,000 a minute held about 4 notifications, twelve
  // statements each, and PostgreSQL took most of the machine (bench/README.md, a campaign).
  const concurrency = settings.notificationConcurrency;
  const batcher = createNotificationBatcher({ ...delivery, logger: log }, { maxBatch: concurrency, maxInFlight: BATCHES_IN_FLIGHT });
  const deliver = createDeliverNotificationProcessor({ batcher, afterCommit, logger: log });
  const firstSteps = createFirstStepsProcessor({ afterCommit, logger: log, atOnce: BATCHES_IN_FLIGHT });
  // One queue, two kinds of job: a notification's own ('deliver'), and a batch's first steps.
  const processor = (job: Job<NotificationJob | NotificationBatchJob>, token?: string) =>
    job.name === FIRST_STEPS ? firstSteps(job as Job<NotificationBatchJob>) : deliver(job as Job<NotificationJob>, token);
  const deliveryWorker = startQueueWorker<NotificationJob | NotificationBatchJob, string>(NOTIFICATION_QUEUE, processor, log, { ...settings, concurrency });
  const expiryLog = logger.child({ component: 'offer-expiry' });
  const expiryProcessor = createExpireOffersProcessor({ afterCommit, logger: expiryLog, settings: settings.offerExpiry });
  const expiryWorker = startQueueWorker(OFFER_EXPIRY_QUEUE, expiryProcessor, expiryLog, { ...settings, concurrency: 1 });
  // Every worker makes sure the scheduler exists now, and again on a timer of its own: a scheduler
  // is a Redis key, and a Redis restart that loses the data (or a flush) would otherwise stop
  // offers expiring until a worker restarts.
  // When Redis is down, the next tick tries again; the start itself never waits for Redis.
  const scheduler = startPeriodic(
    'schedule-offer-expiry',
    () => scheduleOfferExpiry(offerExpiryQueue, settings.offerExpiryIntervalMs),
    Math.max(settings.reconcileIntervalMs, Math.min(settings.offerExpiryIntervalMs, 60_000)),
    expiryLog,
  );

  const reconcileNotifications = createNotificationReconciler({
    queue: notificationQueue,
    afterCommit,
    logger: log,
    graceMs: settings.reconcileGraceMs,
  });
  const reconciler = startPeriodic('reconcile-notifications', reconcileNotifications, settings.reconcileIntervalMs, log, {
    queue: notificationQueue,
    name: 'reconcile-notifications',
  });

  const remindOffers = createOfferReminders({ afterCommit, logger: expiryLog, beforeMs: settings.offerReminderBeforeMs });
  const reminders = startPeriodic('remind-offers', remindOffers, settings.offerReminderIntervalMs, expiryLog, {
    queue: notificationQueue,
    name: 'remind-offers',
  });
  const removeStale = createStaleDeviceCleanup({ logger: log, staleAfterMs: settings.deviceStaleAfterMs });
  const deviceCleanup = startPeriodic('remove-stale-devices', removeStale, settings.deviceCleanupIntervalMs, log, {
    queue: notificationQueue,
    name: 'remove-stale-devices',
  });

  const limitLog = logger.child({ component: 'limit-changes' });
  const runLimitChanges = createLimitChangeRunner({ afterCommit, logger: limitLog, reminderBeforeMs: settings.temporaryLimitReminderBeforeMs });
  const limitChanges = startPeriodic('limit-changes', () => runLimitChanges(), settings.limitChangeIntervalMs, limitLog, {
    queue: notificationQueue,
    name: 'limit-changes',
  });

  return {
    /** Stops taking jobs and waits for the running ones to finish. */
    async close() {
      await Promise.all([reconciler.stop(), scheduler.stop(), reminders.stop(), deviceCleanup.stop(), limitChanges.stop()]);
      await Promise.all([deliveryWorker.close(), expiryWorker.close()]);
    },
  };
}
