// The notifications' metrics, counted where the deliveries are committed.
import { counter } from '../platform/metrics.ts';

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
