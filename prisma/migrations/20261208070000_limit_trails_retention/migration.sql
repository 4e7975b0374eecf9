-- Past the regulatory period, the retention job deletes the limit-change trails (limit_changes and
-- their events) and the history of credit lines (credit_line_changes) as it deletes deployments'
-- trails (docs/data-retention.md). Both tables are written in time order: a BRIN index on the time
-- (a few pages for millions of rows) finds the old rows without reading the table whole.

-- CreateIndex
CREATE INDEX "limit_changes_created_at_idx" ON "limit_changes" USING BRIN ("created_at");

-- CreateIndex
CREATE INDEX "credit_line_changes_at_idx" ON "credit_line_changes" USING BRIN ("at");
