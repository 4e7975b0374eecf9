-- The retention job and the erasure of a data subject (docs/data-retention.md) look for
-- notifications by age and by offer: a BRIN index on created_at (rows arrive in its order: a few
-- pages for millions of rows), and a partial index on offer_id (which also serves the SET NULL of
-- an offer's deletion, a scan of every notification per offer without it).

-- CreateIndex
CREATE INDEX "notifications_created_at_idx" ON "notifications" USING BRIN ("created_at");

-- CreateIndex
CREATE INDEX "notifications_offer_id_idx" ON "notifications"("offer_id") WHERE (offer_id IS NOT NULL);
