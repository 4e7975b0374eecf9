// The offer expiry job, made by the job scheduler every OFFER_EXPIRY_INTERVAL_MS: expires what
// is due and hands the OFFER_EXPIRED notifications to the notifications worker.
import type { Job } from 'bullmq';
import type { Logger } from '../platform/logger.ts';
import { expireDueOffers } from '../domain/offer-expiry.ts';
import { enqueueNotifications, type NotificationQueue } from './queues.ts';

export interface ExpireOffersDeps {
  notificationQueue: NotificationQueue;
  logger: Logger;
}

export function createExpireOffersProcessor({ notificationQueue, logger }: ExpireOffersDeps) {
  return async function expireOffers(job: Job): Promise<number> {
    logger.debug({ periodic: 'expire-offers', jobId: job.id }, 'periodic run');
    const { expired, notifications } = await expireDueOffers().catch((error: unknown) => {
      logger.warn({ err: error, jobId: job.id }, 'offer expiry run failed; the next run catches up');
      throw error;
    });
    if (expired === 0) return 0;
    const log = logger.child({ jobId: job.id, correlationId: notifications[0]?.correlationId });
    log.info({ expired }, 'offers expired');
    await enqueueNotifications(notificationQueue, notifications.map((n) => ({ notificationId: n.id, correlationId: n.correlationId })), log);
    return expired;
  };
}
