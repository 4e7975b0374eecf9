// The Prisma client: one per process, a module singleton (never in the GraphQL context), made
// by the process's entry with connectDatabase before anything queries.
import { createHash } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient, Prisma } from '../generated/prisma/client.ts';
import { inSpan, SpanKind } from './tracing.ts';

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
  /**
   * `url` is a PgBouncer in transaction mode: consecutive transactions of one client may run on
   * different server sessions, so no session state is set by the client (see sessionParameters).
   */
  pgbouncer?: boolean;
  /** The PostgreSQL server itself, bypassing PgBouncer: for the session defaults (and migrations). */
  directUrl?: string;
}

/**
 * The server settings every session of the service runs with. Directly to PostgreSQL they travel
 * as startup parameters (`options`), so every pooled connection has them from its first
 * statement; PgBouncer refuses those, and in transaction mode a SET would stick to whichever
 * server session ran it, so there they are the role's defaults in the database
 * (applySessionDefaults), which every server session PgBouncer opens starts with.
 */
export function sessionParameters(settings: DatabaseSettings): Record<string, string> {
  return {
    // Waiting on a lock held by a stuck transaction fails instead of hanging: a deployment retries.
    lock_timeout: `${settings.lockTimeoutMs}ms`,
    // A runaway statement cannot hold a connection (and its locks) forever...
    statement_timeout: `${settings.statementTimeoutMs}ms`,
    // ...nor can a session that opened a transaction and went quiet (a hung process, a lost client).
    idle_in_transaction_session_timeout: `${settings.idleInTransactionTimeoutMs}ms`,
    // Every statement of the service is small (an index's few rows): compiling one with LLVM never
    // pays. PostgreSQL does it whenever a plan's estimated cost passes jit_above_cost, and an
    // estimate can, with nothing wrong in the plan: during a campaign's push, the check of sends
    // in doubt (two index lookups, 1 ms) was estimated at 6 million as push_attempts grew, and was
    // compiled for 400 ms at every call (1.3 backends busy by the end of 100,000 pushes).
    jit: 'off',
  };
}

function createClient(settings: DatabaseSettings) {
  const startupOptions = Object.entries(sessionParameters(settings))
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(' ');
  // The pool is the process's one: Prisma's adapter and the hot path's statements (hotQuery) share it.
  const pool = new pg.Pool({
    connectionString: settings.url,
    max: settings.poolSize,
    // With the server unreachable (down, failing over), an operation fails within this instead of hanging.
    connectionTimeoutMillis: settings.connectTimeoutMs,
    ...(settings.pgbouncer ? {} : { options: startupOptions }),
  });
  // An idle connection that breaks (a restart, a failover) must not crash the process before
  // Prisma's adapter attaches its own listener (at its first query): the next query reports it.
  pool.on('error', () => undefined);
  const names = settings.pgbouncer ? undefined : preparedStatementNames();
  hot = { pool, names };
  return new PrismaClient({
    adapter: new PrismaPg(pool, { disposeExternalPool: true, ...(names ? { statementNameGenerator: names } : {}) }),
    // Bursts (many accepts of one offer at once) queue for a pooled connection and a row lock.
    transactionOptions: { maxWait: 10_000, timeout: 15_000 },
  });
}

let hot: { pool: pg.Pool; names: ((query: { sql: string }) => string) | undefined } | null = null;

/** Column types as Prisma's raw queries return them: bigint as BigInt, a timestamp (UTC wall time, no zone) as a Date. */
const HOT_TYPES = {
  getTypeParser(oid: number, format?: string) {
    if (oid === 20) return (value: string) => BigInt(value);
    if (oid === 1114) return (value: string) => new Date(`${value.replace(' ', 'T')}Z`);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

/** A parameter as Prisma's adapter sends it: a Date as its UTC time, a bigint as its digits. */
const hotValue = (value: unknown): unknown =>
  value instanceof Date ? value.toISOString() : typeof value === 'bigint' ? value.toString() : Array.isArray(value) ? value.map(hotValue) : value;

/**
 * A statement of the hot path straight through pg, on the pool Prisma uses, returning its rows as
 * `prisma.$queryRaw` would (same parameters, same column types). Prisma's query interpreter adds
 * about 0.4 ms to every statement (`SELECT 1`: 0.55 ms through Prisma, 0.12 ms through pg, on
 * this machine), as much as the worker's read itself: the accept's two statements and the
 * apply's two come here.
 */
export async function hotQuery<T>(label: string, sql: Prisma.Sql): Promise<T[]> {
  const { pool, statement } = hotPath();
  // Its own span (Prisma's spans do not see it), so the per-hop table keeps its SQL.
  return inSpan(`pg ${label}`, { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql', 'db.query.text': sql.text } }, async () => {
    const { rows } = await pool.query(statement(sql));
    return rows as T[];
  });
}

/** The pool, and a statement as the hot path sends it: named (prepared once per connection), its parameters and column types as Prisma's. */
function hotPath() {
  if (!hot) throw new Error('connectDatabase first');
  const { pool, names } = hot;
  const statement = (sql: Prisma.Sql): pg.QueryConfig => ({ name: names?.({ sql: sql.text }), text: sql.text, values: sql.values.map(hotValue), types: HOT_TYPES });
  return { pool, statement };
}

/** Runs one statement of a `hotTransaction` on its connection. */
export type HotStatement = <T>(sql: Prisma.Sql) => Promise<T[]>;

/**
 * A transaction of statements straight through pg (as `hotQuery`), on one connection of the pool
 * Prisma uses: committed when `work` resolves, rolled back when it throws. For the transactions
 * that carry a batch of hundreds of rows in their parameters (the expiry sweep's): Prisma's
 * interpreter copies each parameter array through its engine and back, on the event loop the
 * process's deployments share.
 */
export async function hotTransaction<T>(label: string, work: (query: HotStatement) => Promise<T>): Promise<T> {
  const { pool, statement } = hotPath();
  return inSpan(`pg ${label}`, { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql' } }, async () => {
    const client = await pool.connect();
    let broken: Error | undefined;
    // A checked-out client has no listener of the pool's: a connection lost between two statements
    // (a server killed, a failover) would be an unhandled 'error' event, and end the process. Kept
    // here instead, so the next statement fails and the client is destroyed, not given back.
    const lost = (error: Error) => (broken = error);
    client.on('error', lost);
    try {
      await client.query('BEGIN');
      const query: HotStatement = async <R>(sql: Prisma.Sql) => (await client.query(statement(sql))).rows as R[];
      const result = await work(query);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A connection that cannot even roll back is not given back to the pool.
      await client.query('ROLLBACK').catch((rollbackFailed: Error) => (broken = rollbackFailed));
      throw error;
    } finally {
      client.off('error', lost);
      client.release(broken);
    }
  });
}

/**
 * Names for statements, so that each pooled connection prepares a statement once and PostgreSQL
 * can keep its plan: the hot statements are long CTEs whose planning cost as much as their
 * execution (the apply's, about 1.5 ms of planning per call, measured with EXPLAIN ANALYZE). The
 * name is the text's hash (one text, one name). Texts that vary with their input (an IN list's
 * length) would fill every connection's cache: past `limit` distinct texts, new ones go unnamed.
 * Not behind PgBouncer in transaction mode, whose server sessions do not keep a client's
 * prepared statements.
 */
function preparedStatementNames(limit = 300): (query: { sql: string }) => string {
  const names = new Map<string, string>();
  // pg leaves a statement unnamed (not prepared) when its name is undefined.
  return ({ sql }) => {
    let name = names.get(sql);
    if (name === undefined && names.size < limit) {
      name = `s_${createHash('sha1').update(sql).digest('base64url')}`;
      names.set(sql, name);
    }
    return name as string;
  };
}

export type Db = ReturnType<typeof createClient>;

/** The process's client: set by connectDatabase (a live binding, so importers see it once set). */
export let prisma: Db = undefined as unknown as Db;

/** Makes the process's client on the first call; later calls return it (one pool per process). */
export function connectDatabase(settings: DatabaseSettings): Db {
  prisma ??= createClient(settings);
  return prisma;
}
/**
 * Behind PgBouncer: makes the session parameters the defaults of the service's role in its
 * database, through the direct URL (ALTER ROLE is not for a pooled connection). Sessions opened
 * from then on start with them; PgBouncer opens its server sessions after the service starts.
 */
export async function applySessionDefaults(settings: DatabaseSettings): Promise<void> {
  if (!settings.pgbouncer) return;
  if (!settings.directUrl) throw new Error('behind PgBouncer, the session defaults need the direct database URL');
  const client = new pg.Client({ connectionString: settings.directUrl });
  await client.connect();
  try {
    const current = async () => {
      const { rows } = await client.query<{ setconfig: string[] | null }>(
        `SELECT setconfig FROM pg_db_role_setting
          WHERE setrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)
            AND setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      return new Set(rows[0]?.setconfig ?? []);
    };
    const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
    const database = client.escapeIdentifier(rows[0]!.db);
    const set = await current();
    for (const [name, value] of Object.entries(sessionParameters(settings))) {
      if (set.has(`${name}=${value}`)) continue; // most starts: already so
      try {
        // Names are ours (sessionParameters); values are a number with a unit, or off.
        await client.query(`ALTER ROLE CURRENT_USER IN DATABASE ${database} SET ${name} = ${client.escapeLiteral(value)}`);
      } catch (error) {
        // Processes starting together race on the same catalog row ("tuple concurrently
        // updated"): fine if another one set the same value.
        if (!(await current()).has(`${name}=${value}`)) throw error;
      }
    }
  } finally {
    await client.end();
  }
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
  CreditLineChange,
  DeploymentEvent,
  Device,
  LimitChange,
  LimitChangeEvent,
  Notification,
  NotificationChannelSetting,
  NotificationDelivery,
  NotificationPreferences,
} from '../generated/prisma/client.ts';
export {
  CreditDeploymentStatus,
  CreditLimitChangeReason,
  CreditOfferStatus,
  DeliveryReason,
  DeliveryStatus,
  DeploymentFailureCode,
  DevicePlatform,
  LimitChangeStatus,
  LimitChangeType,
  LimitDecreaseReason,
  NotificationCategory,
  NotificationChannel,
  NotificationKind,
  NotificationStatus,
} from '../generated/prisma/enums.ts';
