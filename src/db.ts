// The Prisma client: one per process, a module singleton (never in the GraphQL context).
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.ts';
import { config } from './config.ts';

export const prisma = new PrismaClient({
  adapter: new PrismaPg({
    connectionString: config.DATABASE_URL,
    max: config.DATABASE_POOL_SIZE,
    // Waiting on a lock held by a stuck transaction fails instead of hanging: a deployment retries.
    options: `-c lock_timeout=${config.DATABASE_LOCK_TIMEOUT_MS}`,
  }),
  // Bursts (many accepts of one offer at once) queue for a pooled connection and a row lock.
  transactionOptions: { maxWait: 10_000, timeout: 15_000 },
});

export type Db = typeof prisma;
/** A client inside `prisma.$transaction(async (tx) => ...)`. */
export type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

export { Prisma } from './generated/prisma/client.ts';
export type {
  CreditDeployment,
  CreditOffer,
  CreditProfile,
  DeploymentEvent,
  Device,
  Notification,
  NotificationDelivery,
} from './generated/prisma/client.ts';
export {
  CreditDeploymentStatus,
  CreditOfferStatus,
  DeliveryStatus,
  DevicePlatform,
  NotificationChannel,
  NotificationKind,
  NotificationStatus,
} from './generated/prisma/enums.ts';
