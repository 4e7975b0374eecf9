-- CreateEnum
CREATE TYPE "credit_limit_change_reason" AS ENUM ('OFFER_ACCEPTED', 'USAGE_SYNC');

-- AlterTable
ALTER TABLE "users" ADD COLUMN     "last_event_sequence" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "outbox_events" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "sequence" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "occurred_at" TIMESTAMP(3) NOT NULL,
    "payload" JSONB NOT NULL,
    "sent_at" TIMESTAMP(3),

    CONSTRAINT "outbox_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "insights_credit_history" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "sequence" INTEGER NOT NULL,
    "at" TIMESTAMP(3) NOT NULL,
    "reason" "credit_limit_change_reason" NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "previous_limit_cents" BIGINT,
    "new_limit_cents" BIGINT NOT NULL,
    "available_cents" BIGINT NOT NULL,
    "deployment_id" UUID,

    CONSTRAINT "insights_credit_history_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "insights_users" (
    "user_id" TEXT NOT NULL,
    "last_sequence" INTEGER NOT NULL DEFAULT 0,
    "limit_cents" BIGINT,
    "available_cents" BIGINT,
    "utilisation_bps" INTEGER,
    "last_increase_at" TIMESTAMP(3),
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "insights_users_pkey" PRIMARY KEY ("user_id")
);

-- CreateIndex
CREATE INDEX "outbox_events_sent_at_occurred_at_idx" ON "outbox_events"("sent_at", "occurred_at");

-- CreateIndex
CREATE INDEX "outbox_events_occurred_at_idx" ON "outbox_events"("occurred_at");

-- CreateIndex
CREATE UNIQUE INDEX "outbox_events_user_id_sequence_key" ON "outbox_events"("user_id", "sequence");

-- CreateIndex
CREATE INDEX "insights_credit_history_user_id_at_id_idx" ON "insights_credit_history"("user_id", "at" DESC, "id" DESC);
