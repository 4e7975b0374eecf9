-- A notification's dedupe key as the MD5 of its text ("<KIND>:<subject id>") read as a UUID:
-- 16 bytes in the row and in its unique index, against 53 as text (bench/README.md, Growth).
-- Every key already stored becomes the value the service now writes for the same event, so an
-- event notified before still finds its notification. The table is rewritten (an exclusive lock
-- for the rewrite and its indexes: 4.8 s for a million notifications with three indexes on this
-- 2-core machine, 2026-12-07).
ALTER TABLE "notifications" ALTER COLUMN "dedupe_key" SET DATA TYPE UUID USING md5("dedupe_key")::uuid;
