-- Offers issued in bulk carry their campaign: for reports, and to find a campaign's pending offers.

-- AlterTable
ALTER TABLE "credit_offers" ADD COLUMN     "campaign_id" TEXT;

-- CreateIndex
CREATE INDEX "credit_offers_campaign_id_status_idx" ON "credit_offers"("campaign_id", "status") WHERE (campaign_id IS NOT NULL);
