-- The latest acceptance wins: every acceptance takes the user's next sequence number, and the
-- profile remembers the sequence of the acceptance it holds, so an older one applied late
-- changes nothing. Deployments accepted before this migration have no sequence (0 when compared).

-- AlterTable
ALTER TABLE "credit_deployments" ADD COLUMN     "acceptance_sequence" INTEGER;

-- AlterTable
ALTER TABLE "credit_profiles" ADD COLUMN     "applied_acceptance_sequence" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "users" ADD COLUMN     "last_acceptance_sequence" INTEGER NOT NULL DEFAULT 0;
