// The offer expiry job, made by the job scheduler every OFFER_EXPIRY_INTERVAL_MS: expires what
// is due, batch by batch, and hands each committed batch's OFFER_EXPIRED notifications to the
// notifications worker as it commits (never all of a campaign's at once).
import type { Job } from 'bullmq';
import type { Logger } from '../platform/logger.ts';
import { expireDueOffers, type ExpiredBatch, type OfferExpirySettings } from '../domain/offer-expiry.ts';
import { enqueueNotifications, type NotificationQueue } from './queues.ts';

export interface ExpireOffersDeps {
  notificationQueue: NotificationQueue;
  logger: Logger;
  settings: OfferExpirySettings;
}

export function createExpireOffersProcessor({ notificationQueue, logger, settings }: ExpireOffersDeps) {
  return async function expireOffers(job: Job): Promise<number> {
    logger.debug({ periodic: 'expire-offers', jobId: job.id }, 'periodic run');
    const log = logger.child({ jobId: job.id });
    // A campaign's notifications wait behind those of users' own actions (a deployment's result).
    const afterCommit = (batch: ExpiredBatch) =>
      enqueueNotifications(
        notificationQueue,
        batch.notifications.map((n) => ({ ...n, background: true })),
        log.child({ correlationId: batch.notifications[0]?.correlationId }),
      );
    const expired = await expireDueOffers(afterCommit, settings).catch((error: unknown) => {
      log.warn({ err: error }, 'offer expiry run failed; the next run catches up');
      throw error;
    });
    if (expired > 0) log.info({ expired }, 'offers expired');
    return expired;
  };
}
