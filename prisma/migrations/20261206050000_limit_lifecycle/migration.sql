-- Issue 23: limit decreases with notice, temporary increases, withdrawn offers; the service's own
-- credit line history (User.creditHistory no longer needs the example consumer); the audit of limit changes.


-- CreateEnum
CREATE TYPE "limit_change_type" AS ENUM ('INCREASE', 'DECREASE', 'TEMPORARY_START', 'TEMPORARY_END');

-- CreateEnum
CREATE TYPE "limit_change_status" AS ENUM ('SCHEDULED', 'APPLIED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "limit_decrease_reason" AS ENUM ('RISK_DETERIORATION', 'INACTIVITY', 'PORTFOLIO_REVIEW', 'CUSTOMER_REQUEST');

-- AlterEnum


ALTER TYPE "credit_limit_change_reason" ADD VALUE 'LIMIT_DECREASE';
ALTER TYPE "credit_limit_change_reason" ADD VALUE 'TEMPORARY_LIMIT_ENDED';

-- AlterEnum
ALTER TYPE "credit_offer_status" ADD VALUE 'WITHDRAWN';

-- AlterEnum


ALTER TYPE "notification_kind" ADD VALUE 'LIMIT_DECREASE_SCHEDULED';
ALTER TYPE "notification_kind" ADD VALUE 'LIMIT_DECREASED';
ALTER TYPE "notification_kind" ADD VALUE 'LIMIT_CHANGE_CANCELLED';
ALTER TYPE "notification_kind" ADD VALUE 'TEMPORARY_LIMIT_ENDING';
ALTER TYPE "notification_kind" ADD VALUE 'TEMPORARY_LIMIT_ENDED';

-- AlterTable
ALTER TABLE "credit_offers" ADD COLUMN     "temporary_until" TIMESTAMP(3),
ADD COLUMN     "withdrawn_at" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "credit_profiles" ADD COLUMN     "permanent_limit_cents" BIGINT,
ADD COLUMN     "temporary_until" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "limit_changes" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "type" "limit_change_type" NOT NULL,
    "status" "limit_change_status" NOT NULL DEFAULT 'SCHEDULED',
    "currency" CHAR(3) NOT NULL,
    "new_limit_cents" BIGINT NOT NULL,
    "previous_limit_cents" BIGINT,
    "available_cents" BIGINT,
    "decrease_reason" "limit_decrease_reason",
    "decision_sequence" INTEGER NOT NULL,
    "effective_at" TIMESTAMP(3) NOT NULL,
    "notice_ms" BIGINT NOT NULL DEFAULT 0,
    "notice_notification_id" UUID,
    "notice_delivered_at" TIMESTAMP(3),
    "notice_proof" JSONB,
    "offer_id" UUID,
    "requested_by" TEXT NOT NULL,
    "correlation_id" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "applied_at" TIMESTAMP(3),
    "cancelled_at" TIMESTAMP(3),

    CONSTRAINT "limit_changes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "limit_change_events" (
    "id" BIGSERIAL NOT NULL,
    "change_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "correlation_id" TEXT NOT NULL,
    "detail" JSONB,

    CONSTRAINT "limit_change_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "credit_line_changes" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "at" TIMESTAMP(3) NOT NULL,
    "reason" "credit_limit_change_reason" NOT NULL,
    "change_type" "limit_change_type",
    "decrease_reason" "limit_decrease_reason",
    "currency" CHAR(3) NOT NULL,
    "previous_limit_cents" BIGINT,
    "new_limit_cents" BIGINT NOT NULL,
    "available_cents" BIGINT NOT NULL,
    "deployment_id" UUID,
    "limit_change_id" UUID,

    CONSTRAINT "credit_line_changes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "limit_changes_scheduled_effective_at_idx" ON "limit_changes"("effective_at") WHERE (status = 'SCHEDULED'::limit_change_status);

-- CreateIndex
CREATE INDEX "limit_changes_user_id_status_effective_at_idx" ON "limit_changes"("user_id", "status", "effective_at");

-- CreateIndex
CREATE INDEX "limit_change_events_change_id_at_idx" ON "limit_change_events"("change_id", "at");

-- CreateIndex
CREATE INDEX "credit_line_changes_user_id_at_id_idx" ON "credit_line_changes"("user_id", "at" DESC, "id" DESC);

-- AddForeignKey
ALTER TABLE "limit_change_events" ADD CONSTRAINT "limit_change_events_change_id_fkey" FOREIGN KEY ("change_id") REFERENCES "limit_changes"("id") ON DELETE RESTRICT ON UPDATE CASCADE;



-- The history of the changes made before this migration: what the example consumer recorded (ids
-- are the events' ids), then every applied deployment it missed (ids are the deployments' ids).
INSERT INTO "credit_line_changes" (id, user_id, at, reason, change_type, currency, previous_limit_cents, new_limit_cents, available_cents, deployment_id)
SELECT h.id, h.user_id, h.at, h.reason, CASE WHEN h.reason = 'OFFER_ACCEPTED' THEN 'INCREASE'::limit_change_type END, h.currency,
       h.previous_limit_cents, h.new_limit_cents, h.available_cents, h.deployment_id
  FROM insights_credit_history h
ON CONFLICT (id) DO NOTHING;

INSERT INTO "credit_line_changes" (id, user_id, at, reason, change_type, currency, previous_limit_cents, new_limit_cents, available_cents, deployment_id)
SELECT d.id, d.user_id, e.at, 'OFFER_ACCEPTED', 'INCREASE', d.currency,
       (e.detail->>'previousLimitCents')::bigint, (e.detail->>'newLimitCents')::bigint, (e.detail->>'availableCents')::bigint, d.id
  FROM credit_deployments d JOIN deployment_events e ON e.deployment_id = d.id AND e.type = 'PROFILE_UPDATED'
 WHERE d.status = 'DEPLOYED' AND NOT EXISTS (SELECT 1 FROM insights_credit_history h WHERE h.deployment_id = d.id)
ON CONFLICT (id) DO NOTHING;
