-- The periodic jobs look for the few rows still open among millions of final ones: the expiry
-- sweep's PENDING offers, the notification reconciler's unsettled pushes, the relay's unsent
-- events. Partial indexes hold only those rows (the full (status, expires_at) index held every
-- offer for the sake of a few).
-- DropIndex
DROP INDEX "credit_offers_status_expires_at_idx";

-- CreateIndex
CREATE INDEX "credit_offers_pending_expires_at_idx" ON "credit_offers"("expires_at") WHERE (status = 'PENDING'::credit_offer_status);

-- CreateIndex
CREATE INDEX "notifications_push_unsettled_status_push_due_at_idx" ON "notifications"("status", "push_due_at") WHERE (push_settled_at IS NULL);

-- CreateIndex
CREATE INDEX "outbox_events_unsent_user_id_sequence_idx" ON "outbox_events"("user_id", "sequence") WHERE (sent_at IS NULL);
