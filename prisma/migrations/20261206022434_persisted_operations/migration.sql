-- Persisted operations registered by clients from their manifests (the app's CI publishes them),
-- and which client versions registered each, with when it was last used (usage, retirement).

-- CreateTable
CREATE TABLE "persisted_operations" (
    "hash" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "persisted_operations_pkey" PRIMARY KEY ("hash")
);

-- CreateTable
CREATE TABLE "operation_registrations" (
    "client_name" TEXT NOT NULL,
    "client_version" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "registered_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMP(3),

    CONSTRAINT "operation_registrations_pkey" PRIMARY KEY ("client_name","client_version","hash")
);

-- CreateIndex
CREATE INDEX "operation_registrations_hash_idx" ON "operation_registrations"("hash");

-- AddForeignKey
ALTER TABLE "operation_registrations" ADD CONSTRAINT "operation_registrations_hash_fkey" FOREIGN KEY ("hash") REFERENCES "persisted_operations"("hash") ON DELETE CASCADE ON UPDATE CASCADE;
