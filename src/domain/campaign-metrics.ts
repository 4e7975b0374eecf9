// The metrics of campaigns: offers issued, offers expired by the sweep, and how far behind the
// sweep is. Counted where the work commits; the lag is set by the sweep as it goes.
import { counter, gauge } from '../platform/metrics.ts';

const issued = counter({
  name: 'credit_offers_issued_total',
  help: 'Offers issued (new ones; an externalRef sent again issues nothing), by way: single (issueCreditOffer) or batch (issueCreditOffers)',
  labelNames: ['via'],
});

const expired = counter({
  name: 'credit_offers_expired_total',
  help: 'Offers expired by the sweep, each with its notification and outbox event',
});

const sweepLag = gauge({
  name: 'credit_offer_expiry_lag_seconds',
  help: "How long past its expiry the oldest offer the sweep is working on was due (0 once a sweep finds nothing left due)",
});

export function countOffersIssued(via: 'single' | 'batch', count: number) {
  if (count > 0) issued.inc({ via }, count);
}

/** A committed batch of the sweep: its offers, and when the oldest of them was due. */
export function countOffersExpired(count: number, oldestDueAt: Date | null, now = new Date()) {
  if (count > 0) expired.inc(count);
  sweepLag.set(oldestDueAt ? Math.max(0, (now.getTime() - oldestDueAt.getTime()) / 1000) : 0);
}
