// The Prisma client: one per process, a module singleton (never in the GraphQL context), made
// by the process's entry with connectDatabase before anything queries.
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';

export interface DatabaseSettings {
  url: string;
  poolSize: number;
  /** Opening a connection gives up after this long. */
  connectTimeoutMs: number;
  /** A transaction waiting longer than this for a row lock fails. */
  lockTimeoutMs: number;
  /** The server cancels a statement running longer than this. */
  statementTimeoutMs: number;
  /** The server ends a session idle inside an open transaction this long, releasing its locks. */
  idleInTransactionTimeoutMs: number;
}

/**
 * Session settings travel as startup parameters, so every pooled connection has them from its
 * first statement. Behind PgBouncer in transaction mode (which does not forward them), set the
 * same values on the role instead: ALTER ROLE ... SET statement_timeout = ..., and so on.
 */
function sessionSettings(settings: DatabaseSettings): string {
  return [
    // Waiting on a lock held by a stuck transaction fails instead of hanging: a deployment retries.
    `-c lock_timeout=${settings.lockTimeoutMs}`,
    // A runaway statement cannot hold a connection (and its locks) forever...
    `-c statement_timeout=${settings.statementTimeoutMs}`,
    // ...nor can a session that opened a transaction and went quiet (a hung process, a lost client).
    `-c idle_in_transaction_session_timeout=${settings.idleInTransactionTimeoutMs}`,
  ].join(' ');
}

function createClient(settings: DatabaseSettings) {
  return new PrismaClient({
    adapter: new PrismaPg({
      connectionString: settings.url,
      max: settings.poolSize,
      // With the server unreachable (down, failing over), an operation fails within this instead of hanging.
      connectionTimeoutMillis: settings.connectTimeoutMs,
      options: sessionSettings(settings),
    }),
    // Bursts (many accepts of one offer at once) queue for a pooled connection and a row lock.
    transactionOptions: { maxWait: 10_000, timeout: 15_000 },
  });
}

export type Db = ReturnType<typeof createClient>;

/** The process's client: set by connectDatabase (a live binding, so importers see it once set). */
export let prisma: Db = undefined as unknown as Db;

/** Makes the process's client on the first call; later calls return it (one pool per process). */
export function connectDatabase(settings: DatabaseSettings): Db {
  prisma ??= createClient(settings);
  return prisma;
}
/** Postgres answers (for /ready). */
export async function databaseReady(): Promise<boolean> {
  await prisma.$queryRaw`SELECT 1`;
  return true;
}

/** A client inside `prisma.$transaction(async (tx) => ...)`. */
export type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

export { Prisma } from '../generated/prisma/client.ts';
export type {
  CreditDeployment,
  CreditHistoryEntry,
  CreditOffer,
  CreditProfile,
  DeploymentEvent,
  Device,
  Notification,
  NotificationDelivery,
} from '../generated/prisma/client.ts';
export {
  CreditDeploymentStatus,
  CreditLimitChangeReason,
  CreditOfferStatus,
  DeliveryStatus,
  DeploymentFailureCode,
  DevicePlatform,
  NotificationChannel,
  NotificationKind,
  NotificationStatus,
} from '../generated/prisma/enums.ts';
