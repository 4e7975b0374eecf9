-- The deployment reconciler's scan writes its statuses as literals (src/jobs/reconciler.ts), so an
-- index of the unfinished deployments only serves it: an entry while a deployment is open, none
-- once it ended, where the full (status, queued_at) index kept one for every deployment ever
-- made (33-66 bytes a deployment in the growth bench). The retention job's search for trails
-- ended before the regulatory period reads deployments by age instead: rows arrive in queued_at
-- order, so a BRIN index (a few pages for millions) finds them, as for notifications.

-- DropIndex
DROP INDEX "credit_deployments_status_queued_at_idx";

-- CreateIndex
CREATE INDEX "credit_deployments_unfinished_queued_at_idx" ON "credit_deployments"("queued_at") WHERE (status = ANY (ARRAY['QUEUED'::credit_deployment_status, 'PROCESSING'::credit_deployment_status, 'RETRYING'::credit_deployment_status]));

-- CreateIndex
CREATE INDEX "credit_deployments_queued_at_idx" ON "credit_deployments" USING BRIN ("queued_at");
