-- The outbox relay's users are those of the oldest unsent events: read in age order from an index
-- of the unsent rows only, a pass reads as many events as it publishes. Grouping every unsent
-- event by user made each pass cost the whole backlog (bench/README.md, a campaign).
-- On the partitioned table, each partition gets its own (and those the worker creates ahead).

-- CreateIndex
CREATE INDEX "outbox_events_unsent_occurred_at_idx" ON "outbox_events"("occurred_at") WHERE (sent_at IS NULL);
