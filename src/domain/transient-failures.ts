// Why an attempt failed, by cause, as a public code. Everything thrown while applying a deployment
// is transient trouble (the database or Redis unreachable, restarting, failing over, busy):
// business refusals are not thrown, they are returned by the apply step. What nobody classified
// counts as transient too, so a new kind of outage never fails a customer's deployment for good.

/** Public codes of transient failures: what a RETRY_SCHEDULED event says, never a driver's words. */
export type TransientFailureCode = 'DATABASE_UNAVAILABLE' | 'DATABASE_BUSY' | 'QUEUE_UNAVAILABLE' | 'TEMPORARY_FAILURE';

export interface TransientFailure {
  code: TransientFailureCode;
  /** The technical cause (SQLSTATE, driver error kind, errno): for logs and ops, never for customers. */
  cause: string;
}

// SQLSTATEs: connection exceptions (class 08), shutdown and restart (57P01-57P03), a read-only
// transaction after a failover (25006), too many connections (53300).
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '25006', '53300', '53000']);
// Serialization failure, deadlock, lock timeout, statement timeout (query canceled), idle in
// transaction timeout (25P03), out of resources (53200).
const BUSY_SQLSTATES = new Set(['40001', '40P01', '55P03', '57014', '25P03', '53200']);
// @prisma/driver-adapter-utils error kinds.
const UNAVAILABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'TlsConnectionError']);
const BUSY_KINDS = new Set(['TransactionWriteConflict', 'TransactionAlreadyClosed']);
// Prisma error codes: cannot reach / timed out / server closed the connection; pool timeout;
// transaction conflict or deadlock; transaction API error (its time limit ran out).
const UNAVAILABLE_PRISMA = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
const BUSY_PRISMA = new Set(['P2034', 'P2028']);
const NETWORK_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const REDIS_ERRORS = new Set(['MaxRetriesPerRequestError', 'ReplyError', 'AbortError']);

interface Clue {
  code?: unknown;
  kind?: unknown;
  name?: unknown;
  message?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: { cause?: Clue } } & Record<string, unknown>;
}

/** The error and what it wraps (Error.cause, Prisma's driver adapter error), outermost first. */
function chain(error: unknown): Clue[] {
  const seen: Clue[] = [];
  let current: unknown = error;
  while (current && typeof current === 'object' && seen.length < 8 && !seen.includes(current as Clue)) {
    const clue = current as Clue;
    seen.push(clue);
    const adapterCause = clue.meta?.driverAdapterError?.cause;
    if (adapterCause) seen.push(adapterCause);
    current = clue.cause;
  }
  return seen;
}

const text = (value: unknown) => (typeof value === 'string' ? value : '');

function classifyOne(clue: Clue): TransientFailure | null {
  const code = text(clue.code);
  const kind = text(clue.kind);
  const name = text(clue.name);
  if (kind === 'postgres' || /^[0-9A-Z]{5}$/.test(code)) {
    if (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code)) return { code: 'DATABASE_UNAVAILABLE', cause: `SQLSTATE ${code}` };
    if (BUSY_SQLSTATES.has(code)) return { code: 'DATABASE_BUSY', cause: `SQLSTATE ${code}` };
  }
  if (UNAVAILABLE_KINDS.has(kind)) return { code: 'DATABASE_UNAVAILABLE', cause: kind };
  if (BUSY_KINDS.has(kind)) return { code: 'DATABASE_BUSY', cause: kind };
  if (UNAVAILABLE_PRISMA.has(code)) return { code: 'DATABASE_UNAVAILABLE', cause: code };
  if (BUSY_PRISMA.has(code)) return { code: 'DATABASE_BUSY', cause: code };
  if (REDIS_ERRORS.has(name) || /Connection is closed|Stream isn't writeable|enableOfflineQueue/.test(text(clue.message))) {
    return { code: 'QUEUE_UNAVAILABLE', cause: name || 'redis connection' };
  }
  if (NETWORK_ERRNOS.has(code)) return { code: 'DATABASE_UNAVAILABLE', cause: code };
  // node-postgres' own words when the server goes away or the pool cannot connect in time.
  const message = text(clue.message);
  if (/Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message)) {
    return { code: 'DATABASE_UNAVAILABLE', cause: 'connection lost' };
  }
  return null;
}

/** The public code and technical cause of a failed attempt; unclassified errors are TEMPORARY_FAILURE. */
export function classifyTransient(error: unknown): TransientFailure {
  for (const clue of chain(error)) {
    const found = classifyOne(clue);
    if (found) return found;
  }
  const name = error instanceof Error ? error.constructor.name : typeof error;
  return { code: 'TEMPORARY_FAILURE', cause: name };
}
