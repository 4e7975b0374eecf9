// The periodic OFFER_EXPIRING reminders: the domain creates them (once per offer), and what
// follows their commit (first delivery step, jobs) goes through the after-commit step.
import { remindExpiringOffers } from '../domain/offer-notifications.ts';
import type { Logger } from '../platform/logger.ts';
import type { AfterCommit } from './after-commit.ts';

export function createOfferReminders({ afterCommit, logger, beforeMs }: { afterCommit: AfterCommit; logger: Logger; beforeMs: number }) {
  return async function remindOffers(now = new Date()): Promise<number> {
    const created = await remindExpiringOffers(beforeMs, now);
    if (created.length > 0) {
      logger.info({ reminders: created.length }, 'offer expiry reminders created');
      await afterCommit({ notifications: created }, logger);
    }
    return created.length;
  };
}
