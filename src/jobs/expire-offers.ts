// The offer expiry job, made by the job scheduler every OFFER_EXPIRY_INTERVAL_MS: expires what
// is due, batch by batch, and hands each committed batch's OFFER_EXPIRED notifications over as it
// commits (never all of a campaign's at once), as one first-steps job per batch, as a campaign's
// issuance does: the worker takes the batch's first steps in bulk, behind users' own work (a
// deployment's result), and adds a job only for each push left to send. A job per notification
// cost each one its own BullMQ round trips and a batch of its own when the sweep was paced (a
// worker's CPU per notification tripled).
import type { Job } from 'bullmq';
import type { Logger } from '../platform/logger.ts';
import { expireDueOffers, type ExpiredBatch, type OfferExpirySettings } from '../domain/offer-expiry.ts';
import type { AfterCommit } from './after-commit.ts';

export interface ExpireOffersDeps {
  afterCommit: AfterCommit;
  logger: Logger;
  settings: OfferExpirySettings;
}

/** A committed batch's notifications, as its first-steps job is given them. */
export const firstStepsOf = (batch: ExpiredBatch) =>
  batch.notifications.map((n) => ({ id: n.notificationId, correlationId: n.correlationId, createdAt: n.createdAt }));

export function createExpireOffersProcessor({ afterCommit, logger, settings }: ExpireOffersDeps) {
  return async function expireOffers(job: Job): Promise<number> {
    logger.debug({ periodic: 'expire-offers', jobId: job.id }, 'periodic run');
    const log = logger.child({ jobId: job.id });
    // One first-steps job per batch (best effort: the reconciler enqueues the notifications of a batch left without one).
    const handOver = (batch: ExpiredBatch) =>
      afterCommit({ firstStepsBatch: firstStepsOf(batch) }, log.child({ correlationId: batch.notifications[0]?.correlationId }));
    const expired = await expireDueOffers(handOver, settings).catch((error: unknown) => {
      log.warn({ err: error }, 'offer expiry run failed; the next run catches up');
      throw error;
    });
    if (expired > 0) log.info({ expired }, 'offers expired');
    return expired;
  };
}
