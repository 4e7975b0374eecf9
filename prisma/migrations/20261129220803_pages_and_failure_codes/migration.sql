-- CreateEnum
CREATE TYPE "deployment_failure_code" AS ENUM ('LIMIT_BELOW_USAGE', 'CURRENCY_MISMATCH', 'OFFER_NOT_VALID', 'SUPERSEDED', 'RETRIES_EXHAUSTED');

-- AlterEnum
ALTER TYPE "credit_offer_status" ADD VALUE 'SUPERSEDED';

-- DropIndex
DROP INDEX "credit_deployments_user_id_queued_at_idx";

-- DropIndex
DROP INDEX "credit_offers_user_id_created_at_idx";

-- DropIndex
DROP INDEX "notifications_user_id_created_at_idx";

-- AlterTable
ALTER TABLE "credit_deployments" ADD COLUMN     "failure_code" "deployment_failure_code";

-- Backfill: the code of every deployment that ended FAILED before the column existed, read from
-- the reason the worker wrote (the texts of src/deployments.ts, src/jobs/deploy-credit.ts and
-- src/jobs/reconciler.ts up to this migration). The retry prefixes go first: their text ends with
-- an error message, which could contain anything.
UPDATE "credit_deployments"
   SET "failure_code" = CASE
         WHEN "failure_reason" LIKE 'gave up after % attempts:%' THEN 'RETRIES_EXHAUSTED'
         WHEN "failure_reason" LIKE 'processing stopped:%' THEN 'RETRIES_EXHAUSTED'
         WHEN "failure_reason" LIKE 'the offer is no longer valid%' THEN 'OFFER_NOT_VALID'
         WHEN "failure_reason" LIKE 'the offer is in % but the credit profile is in %' THEN 'CURRENCY_MISMATCH'
         WHEN "failure_reason" LIKE 'the offered limit % is below the credit in use %' THEN 'LIMIT_BELOW_USAGE'
       END::"deployment_failure_code"
 WHERE "status" = 'FAILED';

-- CreateIndex
CREATE INDEX "credit_deployments_user_id_queued_at_id_idx" ON "credit_deployments"("user_id", "queued_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "credit_offers_user_id_created_at_id_idx" ON "credit_offers"("user_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "credit_offers_user_id_status_created_at_id_idx" ON "credit_offers"("user_id", "status", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "notifications_user_id_created_at_id_idx" ON "notifications"("user_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "notifications_unacknowledged_user_id_created_at_id_idx" ON "notifications"("user_id", "created_at" DESC, "id" DESC) WHERE (acknowledged_at IS NULL);
