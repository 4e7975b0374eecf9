// Persisted operations at request time: clients send the hash of an operation their manifest
// registered (Apollo's extensions.persistedQuery.sha256Hash, or documentId / doc_id), and the
// registry in PostgreSQL says which document it is. Each API process caches what it looked up; a
// registration is announced on Redis so that processes drop what they believed unknown, and an
// unknown hash is asked of the database again after a few seconds anyway (a missed announcement
// costs seconds, not a restart). Who may send a full document instead is the caller's decision.
import { GraphQLError } from 'graphql';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { GraphQLParams } from 'graphql-yoga';
import { findOperation, recordUse, type ClientVersion, type StoredOperation } from '../domain/operation-registry.ts';
import { counter } from '../platform/metrics.ts';
import { closeRedis, createRedis, type RedisClient, type RedisSettings } from '../platform/redis.ts';

/** Parameter names Relay-style clients use for the hash (yoga refuses unknown body parameters). */
export const HASH_PARAMS = ['doc_id', 'documentId'];

type Params = Partial<GraphQLParams> & Record<string, unknown>;

/** The hash a request names, if any. */
export function persistedHashOf(params: Params): string | null {
  const persisted = (params.extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)?.persistedQuery;
  const hash = persisted?.sha256Hash ?? params.doc_id ?? params.documentId;
  return typeof hash === 'string' ? hash.replace(/^sha256:/, '') : null;
}

/** Relay's hash parameter on a GET's query string. */
function hashFromQueryString(url: string): string | null {
  const search = new URL(url).searchParams;
  return persistedHashOf({ documentId: search.get('documentId') ?? undefined, doc_id: search.get('doc_id') ?? undefined });
}

export const persistedOnlyError = () =>
  new GraphQLError('Only persisted operations may be sent with this token: send the hash of a known operation', {
    extensions: { code: 'PERSISTED_QUERY_ONLY', http: { status: 400 } },
  });

/** The message and code Apollo's clients recognise. */
export const persistedNotFoundError = () =>
  new GraphQLError('PersistedQueryNotFound', { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 400 } } });

/** The registry could not be read (the database is down): nothing ran. */
export const registryUnavailableError = () =>
  new GraphQLError('The service is temporarily unavailable. Nothing was changed; try again shortly.', { extensions: { code: 'UNAVAILABLE' } });

const persistedOperationsUsed = counter<'client' | 'version' | 'operation'>({
  name: 'graphql_persisted_operations_total',
  help: 'Persisted operations run, by operation and by the client version that registered it ("unregistered" otherwise)',
  labelNames: ['client', 'version', 'operation'],
});

/** How long a hash the registry did not hold is believed unknown without asking the database again. */
const UNKNOWN_FOR_MS = 3_000;
/** How long a known operation is served from the cache before the database is asked again (a retirement whose announcement was missed). */
const KNOWN_FOR_MS = 60_000;
/** At most this many unknown hashes remembered (anyone can send any hash). */
const UNKNOWN_MAX = 10_000;
const HASH = /^[0-9a-f]{64}$/;

export const registrationChannel = (prefix: string) => `${prefix}:persisted-operations`;

export interface OperationRegistrySettings {
  redis: RedisSettings;
  prefix: string;
  /** Last uses are written to the database this often (and at close). */
  usageFlushMs: number;
}

/** The registry as the API processes see it. */
export class PersistedOperations {
  private readonly known = new Map<string, { operation: StoredOperation; until: number }>();
  private readonly unknownUntil = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<StoredOperation | null>>();
  private readonly subscriber: RedisClient;
  private readonly uses = new Map<string, ClientVersion & { hash: string }>();
  private readonly flushTimer: NodeJS.Timeout;
  private lastFlush: Promise<void> = Promise.resolve();

  constructor(private readonly settings: OperationRegistrySettings) {
    this.subscriber = createRedis('subscriber', settings.redis);
    this.subscriber.on('message', (_channel, message: string) => this.forget(message.split(',')));
    // Announcements sent while disconnected are lost: after a reconnection, nothing cached is trusted.
    this.subscriber.on('ready', () => this.forget(null));
    void this.subscriber.subscribe(registrationChannel(settings.prefix)).catch((error: Error) => settings.redis.logger.warn({ err: error }, 'persisted operations: cannot subscribe to registrations'));
    this.flushTimer = setInterval(() => void this.flushUsage(), settings.usageFlushMs);
    this.flushTimer.unref();
  }

  /** The document the request's hash names, or null; counts the use for the client version that sent it. */
  async documentFor(hash: string, client: ClientVersion | null): Promise<string | null> {
    const operation = await this.lookup(hash.replace(/^sha256:/, ''));
    if (!operation) return null;
    this.countUse(hash, operation, client);
    return operation.body;
  }

  private async lookup(hash: string): Promise<StoredOperation | null> {
    if (!HASH.test(hash)) return null;
    const cached = this.known.get(hash);
    if (cached && cached.until > Date.now()) return cached.operation;
    if ((this.unknownUntil.get(hash) ?? 0) > Date.now()) return null;
    let pending = this.inFlight.get(hash);
    if (!pending) {
      pending = findOperation(hash).finally(() => this.inFlight.delete(hash));
      this.inFlight.set(hash, pending);
    }
    let operation: StoredOperation | null;
    try {
      operation = await pending;
    } catch (error) {
      // The database is unreachable: what this process knew still runs (registrations are never changed, only retired).
      if (cached) return cached.operation;
      throw error;
    }
    if (operation) this.known.set(hash, { operation, until: Date.now() + KNOWN_FOR_MS });
    else this.rememberUnknown(hash);
    return operation;
  }

  private rememberUnknown(hash: string) {
    if (this.unknownUntil.size >= UNKNOWN_MAX) this.unknownUntil.clear();
    this.unknownUntil.set(hash, Date.now() + UNKNOWN_FOR_MS);
  }

  /** Drops what is cached of these hashes (all of it for null): the next request asks the database. */
  private forget(hashes: string[] | null) {
    if (!hashes) {
      this.known.clear();
      this.unknownUntil.clear();
      return;
    }
    for (const hash of hashes) {
      this.known.delete(hash);
      this.unknownUntil.delete(hash);
    }
  }

  /** Labels stay bounded: a client version is named only when it registered the operation. */
  private countUse(hash: string, operation: StoredOperation, client: ClientVersion | null) {
    const registered = client !== null && operation.registeredBy.has(`${client.client}@${client.version}`);
    persistedOperationsUsed.inc({
      client: registered ? client.client : 'unregistered',
      version: registered ? client.version : 'unregistered',
      operation: operation.name,
    });
    if (registered) this.uses.set(`${client.client}@${client.version}#${hash}`, { ...client, hash });
  }

  /** Writes the last uses counted since the previous flush. */
  flushUsage(): Promise<void> {
    const uses = [...this.uses.values()];
    this.uses.clear();
    if (uses.length === 0) return this.lastFlush;
    this.lastFlush = this.lastFlush
      .then(() => recordUse(uses, new Date()))
      .catch((error: Error) => this.settings.redis.logger.warn({ err: error, uses: uses.length }, 'persisted operations: last uses not recorded'));
    return this.lastFlush;
  }

  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushUsage();
    await closeRedis(this.subscriber);
  }
}

/** Tells every API process that these operations are registered now (or no longer). */
export async function announceRegistration(redis: RedisClient, prefix: string, hashes: string[]): Promise<void> {
  // Small messages: a manifest of thousands of operations goes as several.
  for (let start = 0; start < hashes.length; start += 200) {
    await redis.publish(registrationChannel(prefix), hashes.slice(start, start + 200).join(','));
  }
}

/**
 * Headers Apollo's clients send that a browser cannot send cross-site without a preflight, so a
 * request carrying one is no CSRF (Apollo Kotlin sends its hashed GETs with X-APOLLO-OPERATION-*).
 */
export const APOLLO_CSRF_SAFE_HEADERS = ['x-apollo-operation-name', 'x-apollo-operation-id', 'apollographql-client-name', 'apollographql-client-version', 'apollo-require-preflight'];

/** Apollo's identification headers (our reference client sends them too), when both are there. */
export function clientVersionOf(headers: { get(name: string): string | null }): ClientVersion | null {
  const client = headers.get('apollographql-client-name');
  const version = headers.get('apollographql-client-version');
  return client && version ? { client, version } : null;
}

/**
 * The document to run for a request's parameters on the WebSocket (HTTP goes through yoga's
 * persisted-operations plugin, with the same lookups): the registered one its hash names (whatever
 * text came with it: Apollo's WebSocket link sends the query and the hash), else its own text when
 * the caller may send documents. Throws the refusal otherwise.
 */
export async function documentFor(
  registry: PersistedOperations,
  params: Params,
  mayRunDocuments: boolean,
  client: ClientVersion | null,
): Promise<string> {
  const text = typeof params.query === 'string' && params.query.length > 0 ? params.query : null;
  const hash = persistedHashOf(params);
  const registered = hash ? await registry.documentFor(hash, client) : null;
  if (registered) return registered;
  if (text && mayRunDocuments) return text;
  throw hash || !text ? persistedNotFoundError() : persistedOnlyError();
}

/**
 * A JSON reviver for graphql-ws messages: Apollo Kotlin and Apollo iOS send a persisted
 * subscription with no `query` at all (only extensions.persistedQuery), which graphql-ws would
 * refuse as malformed; it gets an empty one, and the hash decides (documentFor).
 */
export function persistedSubscribeReviver(key: string, value: unknown): unknown {
  if (key !== '' || typeof value !== 'object' || value === null) return value;
  const message = value as { type?: unknown; payload?: Record<string, unknown> | null };
  const payload = message.payload;
  if (message.type === 'subscribe' && payload && typeof payload === 'object' && payload.query === undefined && persistedHashOf(payload)) {
    return { ...message, payload: { ...payload, query: '' } };
  }
  return value;
}

/** yoga's persisted-operations plugin over the registry (HTTP: POST, and GET for queries). */
export function persistedOperationsPlugin<Ctx extends object>(registry: PersistedOperations, mayRunDocuments: (request: Request) => Promise<boolean>) {
  return usePersistedOperations<Ctx & Record<string, unknown>>({
    getPersistedOperation: (hash, request) => registry.documentFor(hash, clientVersionOf(request.headers)),
    // yoga reads only query, operationName, variables and extensions from a GET's query string.
    extractPersistedOperationId: (params, request) => persistedHashOf(params as Params) ?? (request.method === 'GET' ? hashFromQueryString(request.url) : null),
    allowArbitraryOperations: mayRunDocuments,
    customErrors: { persistedQueryOnly: () => persistedOnlyError(), notFound: () => persistedNotFoundError(), keyNotFound: () => persistedNotFoundError() },
  });
}
