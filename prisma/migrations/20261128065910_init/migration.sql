-- CreateEnum
CREATE TYPE "credit_offer_status" AS ENUM ('PENDING', 'ACCEPTED', 'DEPLOYED', 'FAILED', 'EXPIRED', 'DECLINED');

-- CreateEnum
CREATE TYPE "credit_deployment_status" AS ENUM ('QUEUED', 'PROCESSING', 'RETRYING', 'DEPLOYED', 'FAILED');

-- CreateTable
CREATE TABLE "users" (
    "id" TEXT NOT NULL,
    "locale" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "credit_profiles" (
    "user_id" TEXT NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "limit_cents" BIGINT NOT NULL,
    "used_cents" BIGINT NOT NULL DEFAULT 0,
    "available_cents" BIGINT NOT NULL,
    "interest_rate_bps" INTEGER NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 0,
    "last_limit_change_at" TIMESTAMP(3),
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "credit_profiles_pkey" PRIMARY KEY ("user_id")
);

-- CreateTable
CREATE TABLE "credit_offers" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "limit_cents" BIGINT NOT NULL,
    "interest_rate_bps" INTEGER NOT NULL,
    "currency" CHAR(3) NOT NULL,
    "status" "credit_offer_status" NOT NULL DEFAULT 'PENDING',
    "expires_at" TIMESTAMP(3) NOT NULL,
    "external_ref" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "accepted_at" TIMESTAMP(3),
    "declined_at" TIMESTAMP(3),
    "expired_at" TIMESTAMP(3),

    CONSTRAINT "credit_offers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "credit_deployments" (
    "id" UUID NOT NULL,
    "offer_id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "status" "credit_deployment_status" NOT NULL DEFAULT 'QUEUED',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "currency" CHAR(3) NOT NULL,
    "previous_limit_cents" BIGINT,
    "new_limit_cents" BIGINT NOT NULL,
    "failure_reason" TEXT,
    "correlation_id" TEXT NOT NULL,
    "last_sequence" INTEGER NOT NULL DEFAULT 0,
    "queued_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "completed_at" TIMESTAMP(3),
    "processing_ms" INTEGER,

    CONSTRAINT "credit_deployments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "deployment_events" (
    "id" BIGSERIAL NOT NULL,
    "deployment_id" UUID NOT NULL,
    "sequence" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "status" "credit_deployment_status" NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "correlation_id" TEXT NOT NULL,
    "detail" JSONB,

    CONSTRAINT "deployment_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "acceptance_consents" (
    "id" UUID NOT NULL,
    "offer_id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "accepted_at" TIMESTAMP(3) NOT NULL,
    "ip_address" TEXT,
    "user_agent" TEXT,
    "terms" JSONB NOT NULL,
    "terms_hash" CHAR(64) NOT NULL,
    "correlation_id" TEXT NOT NULL,

    CONSTRAINT "acceptance_consents_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "credit_offers_external_ref_key" ON "credit_offers"("external_ref");

-- CreateIndex
CREATE INDEX "credit_offers_user_id_created_at_idx" ON "credit_offers"("user_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "credit_offers_status_expires_at_idx" ON "credit_offers"("status", "expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "credit_deployments_offer_id_key" ON "credit_deployments"("offer_id");

-- CreateIndex
CREATE INDEX "credit_deployments_user_id_queued_at_idx" ON "credit_deployments"("user_id", "queued_at" DESC);

-- CreateIndex
CREATE INDEX "credit_deployments_status_queued_at_idx" ON "credit_deployments"("status", "queued_at");

-- CreateIndex
CREATE UNIQUE INDEX "deployment_events_deployment_id_sequence_key" ON "deployment_events"("deployment_id", "sequence");

-- CreateIndex
CREATE UNIQUE INDEX "acceptance_consents_offer_id_key" ON "acceptance_consents"("offer_id");

-- AddForeignKey
ALTER TABLE "credit_profiles" ADD CONSTRAINT "credit_profiles_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "credit_offers" ADD CONSTRAINT "credit_offers_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "credit_deployments" ADD CONSTRAINT "credit_deployments_offer_id_fkey" FOREIGN KEY ("offer_id") REFERENCES "credit_offers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "credit_deployments" ADD CONSTRAINT "credit_deployments_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "deployment_events" ADD CONSTRAINT "deployment_events_deployment_id_fkey" FOREIGN KEY ("deployment_id") REFERENCES "credit_deployments"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "acceptance_consents" ADD CONSTRAINT "acceptance_consents_offer_id_fkey" FOREIGN KEY ("offer_id") REFERENCES "credit_offers"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "acceptance_consents" ADD CONSTRAINT "acceptance_consents_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
