-- Notifications the user controls: new kinds, categories and preferences, deferred pushes, and
-- what a delivery says as a stable code (public words are rendered from it; the provider's own
-- text goes to the logs only, and the raw text stored so far is dropped). Devices: last seen,
-- and a token the provider refuses is deleted rather than kept invalidated.

-- AlterEnum
ALTER TYPE "notification_kind" ADD VALUE 'OFFER_RECEIVED';
ALTER TYPE "notification_kind" ADD VALUE 'OFFER_EXPIRING';
ALTER TYPE "delivery_status" ADD VALUE 'DEFERRED';

-- CreateEnum
CREATE TYPE "notification_category" AS ENUM ('OFFERS', 'CREDIT_UPDATES', 'ACCOUNT_NOTICES');
CREATE TYPE "delivery_reason" AS ENUM ('PUSH_NOT_CONFIGURED', 'NO_DEVICE', 'CHANNEL_DISABLED', 'QUIET_HOURS', 'OFFER_NO_LONGER_OPEN', 'DEVICE_TOKEN_INVALID', 'PROVIDER_REJECTED', 'PROVIDER_UNAVAILABLE', 'SEND_IN_DOUBT', 'DELIVERY_ABANDONED');

-- Deliveries: the stored error text becomes a code, then goes.
ALTER TABLE "notification_deliveries" ADD COLUMN "reason_code" "delivery_reason",
ADD COLUMN "scheduled_for" TIMESTAMP(3);
UPDATE "notification_deliveries" SET "reason_code" = CASE
    WHEN "error" LIKE 'push is not configured%' THEN 'PUSH_NOT_CONFIGURED'
    WHEN "error" = 'the user has no registered device' THEN 'NO_DEVICE'
    WHEN "error" LIKE 'not sent again%' THEN 'SEND_IN_DOUBT'
    WHEN "error" LIKE 'delivery stopped%' THEN 'DELIVERY_ABANDONED'
    WHEN "error" LIKE '%registration-token-not-registered%' OR "error" LIKE '%invalid-registration-token%'
      OR "error" ILIKE '%registration token%' THEN 'DEVICE_TOKEN_INVALID'
    WHEN "status" = 'FAILED' AND "error" LIKE 'messaging/invalid-%' THEN 'PROVIDER_REJECTED'
    WHEN "status" = 'FAILED' THEN 'PROVIDER_UNAVAILABLE'
    WHEN "status" = 'SKIPPED' THEN 'PUSH_NOT_CONFIGURED'
  END::"delivery_reason"
 WHERE "error" IS NOT NULL OR "status" IN ('FAILED', 'SKIPPED');
ALTER TABLE "notification_deliveries" DROP COLUMN "error";

-- Devices: last seen (was: refreshed), invalidated ones deleted (their deliveries keep no device).
ALTER TABLE "devices" RENAME COLUMN "refreshed_at" TO "last_seen_at";
DELETE FROM "devices" WHERE "invalidated_at" IS NOT NULL;
ALTER TABLE "devices" DROP COLUMN "invalidated_at",
DROP COLUMN "invalid_reason";
CREATE INDEX "devices_last_seen_at_idx" ON "devices"("last_seen_at");

-- CreateTable
CREATE TABLE "notification_preferences" (
    "user_id" TEXT NOT NULL,
    "time_zone" TEXT NOT NULL DEFAULT 'America/Sao_Paulo',
    "quiet_hours_enabled" BOOLEAN NOT NULL DEFAULT true,
    "quiet_hours_start" TEXT NOT NULL DEFAULT '22:00',
    "quiet_hours_end" TEXT NOT NULL DEFAULT '08:00',
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "notification_preferences_pkey" PRIMARY KEY ("user_id")
);
CREATE TABLE "notification_channel_settings" (
    "user_id" TEXT NOT NULL,
    "category" "notification_category" NOT NULL,
    "channel" "notification_channel" NOT NULL,
    "enabled" BOOLEAN NOT NULL,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "notification_channel_settings_pkey" PRIMARY KEY ("user_id","category","channel")
);

-- AddForeignKey
ALTER TABLE "notification_preferences" ADD CONSTRAINT "notification_preferences_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "notification_channel_settings" ADD CONSTRAINT "notification_channel_settings_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
