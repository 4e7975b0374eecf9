// The notification jobs a worker runs at once take their steps together: each job hands its
// notification to the batcher, which reads those ready in one statement and takes their next
// delivery step together (progressNotifications: one statement per step for the whole batch, its
// pushes claimed, recorded and sent at once). A campaign's pushes, a job each, cost a few
// statements per batch instead of about fifteen per notification. Batches start as the
// deployments' group commit's do (batches.ts). Each job gets its own notification's step.
import { progressNotifications, type DeliveryDeps, type DeliveryStep, type Progress } from '../domain/notification-delivery.ts';
import { countNotificationBatch } from '../domain/notification-metrics.ts';
import { notificationsByIds } from '../domain/notifications.ts';
import { createBatches, type BatchSettings } from './batches.ts';

/** What a job gets back: its notification's step, and what the batch delivered in-app for it. */
export interface NotificationAnswer {
  step: DeliveryStep;
  deliveredInApp: Progress['deliveredInApp'];
}

interface Waiting {
  id: string;
  /** On the job's last attempt, a transient push failure is final. */
  finalAttempt: boolean;
  resolve(answer: NotificationAnswer): void;
  reject(error: unknown): void;
}

export function createNotificationBatcher(delivery: DeliveryDeps, settings: BatchSettings) {
  async function run(batch: Waiting[]): Promise<readonly Waiting[]> {
    countNotificationBatch(batch.length);
    try {
      const stored = new Map((await notificationsByIds([...new Set(batch.map((w) => w.id))])).map((n) => [n.id, n]));
      const again: Waiting[] = [];
      for (const finalAttempt of [false, true]) {
        const group = batch.filter((w) => w.finalAttempt === finalAttempt);
        if (group.length === 0) continue;
        const notifications = [...new Set(group.map((w) => w.id))].flatMap((id) => (stored.has(id) ? [stored.get(id)!] : []));
        const progress = await progressNotifications(delivery, notifications, { sendPushes: true, finalAttempt });
        for (const w of group) {
          if (!stored.has(w.id)) {
            w.resolve({ step: { kind: 'done', outcome: 'missing' }, deliveredInApp: [] });
            continue;
          }
          const step = progress.steps.get(w.id);
          // It changed under the step (acknowledged or delivered elsewhere meanwhile): read it again.
          if (!step) again.push(w);
          else w.resolve({ step, deliveredInApp: progress.deliveredInApp.filter((n) => n.id === w.id) });
        }
      }
      return again;
    } catch (error) {
      // Each job fails as it would alone, and is retried with its backoff.
      for (const w of batch) w.reject(error);
      return [];
    }
  }
  const batches = createBatches(settings, run);

  return {
    /** The notification's next step, taken with whatever else is ready (read as stored). */
    progress(id: string, options: { finalAttempt: boolean }): Promise<NotificationAnswer> {
      return new Promise((resolve, reject) => batches.add({ id, finalAttempt: options.finalAttempt, resolve, reject }));
    },
  };
}

export type NotificationBatcher = ReturnType<typeof createNotificationBatcher>;
