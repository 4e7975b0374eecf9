-- Bytes per deployment (bench/README.md, Growth): two indexes took an entry for every row and a
-- new one at each status change (an update that changes an indexed column writes an entry in
-- every index), to serve queries that only look for the few open rows.
-- credit_offers (user_id, status, created_at, id), 414 bytes per deployment: the acceptance's
-- supersede and a limit change's withdrawal look for a user's PENDING offers (a partial index);
-- a page of one status reads (user_id, created_at, id) and keeps that status.
-- notifications (status, created_at), 131 bytes per deployment: the reconciler looks for the
-- PENDING ones by age (a partial index; its query writes the status as a literal).

-- DropIndex
DROP INDEX "credit_offers_user_id_status_created_at_id_idx";

-- DropIndex
DROP INDEX "notifications_status_created_at_idx";

-- CreateIndex
CREATE INDEX "credit_offers_pending_user_id_idx" ON "credit_offers"("user_id") WHERE (status = 'PENDING'::credit_offer_status);

-- CreateIndex
CREATE INDEX "notifications_pending_created_at_idx" ON "notifications"("created_at") WHERE (status = 'PENDING'::notification_status);
