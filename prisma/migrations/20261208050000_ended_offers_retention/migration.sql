-- Offers never accepted (expired, declined, superseded, withdrawn) are kept
-- NOTIFICATION_RETENTION_DAYS after their expiry, then deleted by the retention job
-- (docs/data-retention.md). The job finds them by expiry among millions of accepted offers, which
-- stay for the regulatory period: an index of the ended, never-accepted offers only, whose
-- entries arrive about in expiry order (the sweep writes them at the index's right edge).

-- CreateIndex
CREATE INDEX "credit_offers_ended_expires_at_id_idx" ON "credit_offers"("expires_at", "id") WHERE (status = ANY (ARRAY['EXPIRED'::credit_offer_status, 'DECLINED'::credit_offer_status, 'SUPERSEDED'::credit_offer_status, 'WITHDRAWN'::credit_offer_status]));

-- An offer named by a limit change (a temporary increase's end) is part of that regulatory trail:
-- the erasure's check for one (per offer of the user) reads this index, not the whole table.
-- CreateIndex
CREATE INDEX "limit_changes_offer_id_idx" ON "limit_changes"("offer_id") WHERE (offer_id IS NOT NULL);
