// The offer expiry job, made by the job scheduler every OFFER_EXPIRY_INTERVAL_MS: expires what
// is due; what follows each commit (the OFFER_EXPIRED notifications' first step) goes through afterCommit.
import type { Job } from 'bullmq';
import type { Logger } from '../platform/logger.ts';
import { expireDueOffers } from '../domain/offer-expiry.ts';
import type { AfterCommit } from './after-commit.ts';

export interface ExpireOffersDeps {
  afterCommit: AfterCommit;
  logger: Logger;
}

export function createExpireOffersProcessor({ afterCommit, logger }: ExpireOffersDeps) {
  return async function expireOffers(job: Job): Promise<number> {
    logger.debug({ periodic: 'expire-offers', jobId: job.id }, 'periodic run');
    const { expired, notifications } = await expireDueOffers().catch((error: unknown) => {
      logger.warn({ err: error, jobId: job.id }, 'offer expiry run failed; the next run catches up');
      throw error;
    });
    if (expired === 0) return 0;
    const log = logger.child({ jobId: job.id, correlationId: notifications[0]?.correlationId });
    log.info({ expired }, 'offers expired');
    await afterCommit({ notifications }, log);
    return expired;
  };
}
