-- Bytes per deployment (docs/data-retention.md): indexes that cost every row and serve little.
-- outbox_events (occurred_at): the table is partitioned by day on occurred_at, so a read by time
-- (events:replay --from-time) is pruned to its days, which it reads whole anyway.
-- notifications (deployment_id): two notifications in three are about an offer and name no
-- deployment; only the rows that name one are indexed (`deployment_id = $1` implies it).

-- DropIndex
DROP INDEX "notifications_deployment_id_idx";

-- DropIndex
DROP INDEX "outbox_events_occurred_at_idx";

-- CreateIndex
CREATE INDEX "notifications_deployment_id_idx" ON "notifications"("deployment_id") WHERE (deployment_id IS NOT NULL);
