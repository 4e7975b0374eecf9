-- outbox_events becomes a table partitioned by day on occurred_at (docs/data-retention.md), so that
-- retention drops a day's partition instead of deleting its rows one by one. Prisma cannot express
-- a partitioned table: this migration holds it as SQL (test/migrations.test.ts knows it).
--
-- A unique key of a partitioned table must hold the partition column: the primary key becomes
-- (id, occurred_at) and the per-user sequence's key (user_id, sequence, occurred_at). The sequence
-- stays unique and gapless per user by how it is taken (users.last_event_sequence, incremented
-- under the user's row lock in the statement that writes the event), tested across a partition
-- boundary in test/retention.test.ts.
--
-- Every row moves: the old table is renamed, its rows copied, then dropped, in this migration's
-- transaction (the outbox holds EVENTS_RETENTION_DAYS of events: about 26,000 rows at today's
-- volume, a copy of seconds).

ALTER TABLE "outbox_events" RENAME TO "outbox_events_unpartitioned";
ALTER INDEX "outbox_events_pkey" RENAME TO "outbox_events_unpartitioned_pkey";
ALTER INDEX "outbox_events_sent_at_occurred_at_idx" RENAME TO "outbox_events_unpartitioned_sent_at_occurred_at_idx";
ALTER INDEX "outbox_events_occurred_at_idx" RENAME TO "outbox_events_unpartitioned_occurred_at_idx";
ALTER INDEX "outbox_events_user_id_sequence_key" RENAME TO "outbox_events_unpartitioned_user_id_sequence_key";
ALTER INDEX "outbox_events_unsent_user_id_sequence_idx" RENAME TO "outbox_events_unpartitioned_unsent_user_id_sequence_idx";

CREATE TABLE "outbox_events" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "sequence" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "occurred_at" TIMESTAMP(3) NOT NULL,
    "payload" JSONB NOT NULL,
    "sent_at" TIMESTAMP(3),

    CONSTRAINT "outbox_events_pkey" PRIMARY KEY ("id", "occurred_at")
) PARTITION BY RANGE ("occurred_at");

-- Rows of a day with no partition yet land here (the worker creates days ahead, so normally none
-- do; its maintenance moves any into their day's partition when it creates it).
CREATE TABLE "outbox_events_default" PARTITION OF "outbox_events" DEFAULT;

-- One partition per UTC day holding rows, and today and the next 7 days (the worker keeps
-- creating ahead: src/domain/outbox-partitions.ts names them alike).
DO $$
DECLARE
  day date;
BEGIN
  FOR day IN
    SELECT DISTINCT occurred_at::date FROM outbox_events_unpartitioned
    UNION
    SELECT d::date FROM generate_series((now() AT TIME ZONE 'UTC')::date, (now() AT TIME ZONE 'UTC')::date + 7, interval '1 day') d
  LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF outbox_events FOR VALUES FROM (%L) TO (%L)',
                   'outbox_events_p' || to_char(day, 'YYYYMMDD'), day::timestamp, (day + 1)::timestamp);
  END LOOP;
END $$;

INSERT INTO "outbox_events" ("id", "user_id", "sequence", "type", "occurred_at", "payload", "sent_at")
SELECT "id", "user_id", "sequence", "type", "occurred_at", "payload", "sent_at" FROM "outbox_events_unpartitioned";

DROP TABLE "outbox_events_unpartitioned";

-- CreateIndex
CREATE UNIQUE INDEX "outbox_events_user_id_sequence_occurred_at_key" ON "outbox_events"("user_id", "sequence", "occurred_at");

-- CreateIndex
CREATE INDEX "outbox_events_sent_at_occurred_at_idx" ON "outbox_events"("sent_at", "occurred_at");

-- CreateIndex
CREATE INDEX "outbox_events_occurred_at_idx" ON "outbox_events"("occurred_at");

-- CreateIndex
CREATE INDEX "outbox_events_unsent_user_id_sequence_idx" ON "outbox_events"("user_id", "sequence") WHERE (sent_at IS NULL);
