// The notifications' metrics, counted where the deliveries are committed.
import { counter, histogram } from '../platform/metrics.ts';

const deliveries = counter({
  name: 'credit_notification_deliveries_total',
  help: 'Notification deliveries recorded, by channel (IN_APP, PUSH) and outcome (SENT, FAILED, SKIPPED)',
  labelNames: ['channel', 'outcome'],
});

const fallbacks = counter({
  name: 'credit_push_fallbacks_total',
  help: 'Notifications delivered in-app, not acknowledged in time, and so pushed',
});

export function countDeliveries(channel: 'IN_APP' | 'PUSH', outcomes: readonly string[]) {
  for (const outcome of outcomes) deliveries.inc({ channel, outcome });
}

export function countPushFallback() {
  fallbacks.inc();
}

const batchSize = histogram({
  name: 'credit_notification_batch_size',
  help: 'Notification jobs a worker took their step together (one read, one claim, one record for all; its mean is sum / count)',
  buckets: [1, 2, 4, 8, 16, 32, 64, 128],
});

/** A batch of notification jobs stepped together. */
export function countNotificationBatch(size: number) {
  batchSize.observe(size);
}
