// The periodic OFFER_EXPIRING reminders: the domain creates them (once per offer), and what
// follows each batch's commit (its jobs) goes through the after-commit step.
import { remindExpiringOffers } from '../domain/offer-notifications.ts';
import type { Logger } from '../platform/logger.ts';
import type { AfterCommit } from './after-commit.ts';

export function createOfferReminders({ afterCommit, logger, beforeMs }: { afterCommit: AfterCommit; logger: Logger; beforeMs: number }) {
  return async function remindOffers(now = new Date()): Promise<number> {
    // As the expiry sweep's: each batch as background jobs once it commits (a campaign's offers
    // come due for their reminder together), behind the notifications of users' own actions.
    const handOver = (created: { id: string; correlationId: string }[]) =>
      afterCommit({ notificationJobs: created.map((n) => ({ notificationId: n.id, correlationId: n.correlationId, background: true })) }, logger);
    const created = await remindExpiringOffers(handOver, beforeMs, now);
    if (created > 0) logger.info({ reminders: created }, 'offer expiry reminders created');
    return created;
  };
}
