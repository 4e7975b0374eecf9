-- A push is recorded before it is sent: a send left in doubt by a crash is resent at most once,
-- with the same collapse key, so the phone shows one notification.

-- CreateTable
CREATE TABLE "push_attempts" (
    "id" BIGSERIAL NOT NULL,
    "notification_id" UUID NOT NULL,
    "device_id" UUID NOT NULL,
    "started_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "push_attempts_pkey" PRIMARY KEY ("id")
);
-- CreateIndex
CREATE INDEX "push_attempts_notification_id_device_id_idx" ON "push_attempts"("notification_id", "device_id");
-- AddForeignKey
ALTER TABLE "push_attempts" ADD CONSTRAINT "push_attempts_notification_id_fkey" FOREIGN KEY ("notification_id") REFERENCES "notifications"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
