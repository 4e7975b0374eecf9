// The offer expiry job, made by the job scheduler every OFFER_EXPIRY_INTERVAL_MS: expires what
// is due, batch by batch, and hands each committed batch's OFFER_EXPIRED notifications to
// afterCommit as it commits (never all of a campaign's at once), as background jobs: a campaign's
// notifications wait behind those of users' own actions (a deployment's result).
import type { Job } from 'bullmq';
import type { Logger } from '../platform/logger.ts';
import { expireDueOffers, type ExpiredBatch, type OfferExpirySettings } from '../domain/offer-expiry.ts';
import type { AfterCommit } from './after-commit.ts';

export interface ExpireOffersDeps {
  afterCommit: AfterCommit;
  logger: Logger;
  settings: OfferExpirySettings;
}

export function createExpireOffersProcessor({ afterCommit, logger, settings }: ExpireOffersDeps) {
  return async function expireOffers(job: Job): Promise<number> {
    logger.debug({ periodic: 'expire-offers', jobId: job.id }, 'periodic run');
    const log = logger.child({ jobId: job.id });
    const handOver = (batch: ExpiredBatch) =>
      afterCommit(
        { notificationJobs: batch.notifications.map((n) => ({ ...n, background: true })) },
        log.child({ correlationId: batch.notifications[0]?.correlationId }),
      );
    const expired = await expireDueOffers(handOver, settings).catch((error: unknown) => {
      log.warn({ err: error }, 'offer expiry run failed; the next run catches up');
      throw error;
    });
    if (expired > 0) log.info({ expired }, 'offers expired');
    return expired;
  };
}
