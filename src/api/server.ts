// The HTTP server: GraphQL over HTTP and SSE (yoga), WebSocket (graphql-ws, ./websocket.ts) on the same path,
// GraphiQL served offline (where enabled), /health and /ready; and the public edge in front of
// them: document limits, persisted operations, rate limits, stream quotas and token expiry,
// body and message sizes, CSRF, CORS, security headers (the same rules on every transport).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import { createYoga, type Plugin } from 'graphql-yoga';
import { canSeeAll, type AuthResult } from '../domain/viewer.ts';
import type { Logger } from '../platform/logger.ts';
import type { SubscriptionQuota } from '../realtime/subscription-quota.ts';
import type { Context, Services } from '../schema/context.ts';
import { counter, metricsRegistry } from '../platform/metrics.ts';
import { annotateActiveSpan, contextFrom, inSpan, SpanKind, startSpan, traceContext, tracingStarted } from '../platform/tracing.ts';
import { schema } from '../schema/index.ts';
import type { Authenticate } from './auth.ts';
import { documentLimitsPlugins, type DocumentLimits } from './document-limits.ts';
import { phaseSpansPlugin } from './phase-spans.ts';
import { APOLLO_CSRF_SAFE_HEADERS, HASH_PARAMS, persistedOperationsPlugin, type PersistedOperations } from './persisted-operations.ts';
import { callerLimitsPlugin, rateLimitedError, type RateLimits } from './rate-limits.ts';
import { cachedCheck } from './ready-check.ts';
import { streamGuardPlugin } from './stream-guard.ts';
import { addressKey, bodyRefusal, clientIp, forwardedForWatch, securityHeadersPlugin } from './transport.ts';
import { attachWebSocket } from './websocket.ts';
import { unavailableAwareMasking } from './unavailable.ts';

const GRAPHQL_PATH = '/graphql';
const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** What the transports know about a request before GraphQL runs. */
export interface RequestInfo {
  authorization: string | null;
  requestId: string | null;
  userAgent: string | null;
  ipAddress: string | null;
}

export interface ServerContext {
  req?: IncomingMessage;
  /** Set by the WebSocket transport, which has no fetch Request and authenticates at connection_init. */
  wsInfo?: RequestInfo;
  wsAuth?: AuthResult;
}

/** The consent evidence keeps this much of the user agent. */
const USER_AGENT_MAX = 512;
const truncate = (text: string | null, max: number) => (text && text.length > max ? text.slice(0, max) : text);

function correlationIdFrom(requestId: string | null): string {
  return requestId && REQUEST_ID.test(requestId) ? requestId : randomUUID();
}

function infoFromNode(req: IncomingMessage, authorization: string | null, trustedProxies: number): RequestInfo {
  const header = (name: string) => {
    const value = req.headers[name];
    return (Array.isArray(value) ? value[0] : value) ?? null;
  };
  return {
    authorization,
    requestId: header('x-request-id'),
    userAgent: header('user-agent'),
    ipAddress: clientIp(req, trustedProxies),
  };
}

/** What the edge enforces, from the configuration. */
export interface EdgeSettings {
  limits: DocumentLimits;
  /** Every caller may send full documents (staging, GraphiQL); otherwise only staff and services. */
  allowDocuments: boolean;
  graphiql: boolean;
  corsOrigins: string[];
  trustedProxies: number;
  maxBodyBytes: number;
  /** The same for credit-engine tokens, whose offer batches are larger than anything a customer sends. */
  maxServiceBodyBytes: number;
  maxWsPayloadBytes: number;
  maxSubscriptionsPerSocket: number;
  maxSubscriptionsPerUser: number;
  /**
   * Protections that only the bench's on/off comparison switches off (EDGE_PROTECTIONS_OFF,
   * refused in production): the document limits, the subscription caps, streams ending at their
   * token's expiry. (Rate limits are off when `rateLimits` is null.)
   */
  documentLimits: boolean;
  subscriptionCaps: boolean;
  streamsFollowTokens: boolean;
}

const forwardedForIgnored = counter({
  name: 'credit_forwarded_for_ignored_total',
  help: 'Requests carrying X-Forwarded-For while TRUSTED_PROXIES=0 (behind a proxy, every client then shares its address)',
});

/** GraphQL metrics by operation name and type, into the process's registry (served on the admin port only). */
const graphqlMetrics = usePrometheus({
  endpoint: false,
  registry: metricsRegistry,
  metrics: {
    graphql_envelop_request_duration: 'graphql_request_duration_seconds',
    graphql_envelop_request: 'graphql_requests_total',
    graphql_envelop_error_result: 'graphql_errors_total',
    graphql_envelop_request_time_summary: false,
    graphql_envelop_phase_parse: false,
    graphql_envelop_phase_validate: false,
    graphql_envelop_phase_context: false,
    graphql_envelop_phase_execute: false,
    graphql_envelop_phase_subscribe: false,
    graphql_envelop_deprecated_field: false,
    graphql_envelop_schema_change: false,
    graphql_yoga_http_duration: false,
  },
});

export interface ApiServerDeps {
  services: Services;
  logger: Logger;
  authenticate: Authenticate;
  edge: EdgeSettings;
  /** null: no rate limits (the bench's on/off comparison only). */
  rateLimits: RateLimits | null;
  subscriptionQuota: SubscriptionQuota;
  /** The registry of persisted operations (what customers may run by hash). */
  persistedOperations: PersistedOperations;
  /** Checks the process's own dependencies for /ready (asked at most once a second). */
  ready: () => Promise<boolean>;
}

/** Staff and services may send documents of their own; customers, only where the switch allows. */
const mayRunDocuments = (auth: AuthResult, allowDocuments: boolean) => allowDocuments || (auth.viewer !== null && canSeeAll(auth.viewer));

export function createApiServer({ services, logger, authenticate, edge, rateLimits, subscriptionQuota, persistedOperations, ready }: ApiServerDeps) {
  const correlationIds = new WeakMap<Request, string>();
  // Echo the correlation id, so a client can quote it when something goes wrong.
  const correlationHeader: Plugin = {
    onResponse({ request, response }) {
      const id = correlationIds.get(request);
      if (id) response.headers.set('x-request-id', id);
    },
  };

  // One verification per HTTP request, whoever asks first (the limits, persisted operations, the context).
  const authByRequest = new WeakMap<Request, Promise<AuthResult>>();
  const authFor = (request: Request) => {
    let auth = authByRequest.get(request);
    if (!auth) {
      auth = inSpan('authenticate', {}, () => authenticate(request.headers.get('authorization')));
      authByRequest.set(request, auth);
    }
    return auth;
  };

  const anonymousLimit: Plugin<ServerContext> = {
    async onParams({ request, context }) {
      if (!rateLimits || (await authFor(request)).viewer) return;
      const { req } = context as ServerContext;
      const ip = req ? clientIp(req, edge.trustedProxies) : null;
      const refusal = await rateLimits.consume('anonymous', addressKey(ip));
      if (refusal) throw rateLimitedError(refusal);
    },
  };
  const persisted = persistedOperationsPlugin<ServerContext>(persistedOperations, async (request) =>
    mayRunDocuments(await authFor(request), edge.allowDocuments),
  ) as Plugin<ServerContext>;
  const viewerOf = (context: unknown) => (context as Context).auth?.viewer ?? null;
  const uncounted = { release: async () => undefined };
  const streamGuard = streamGuardPlugin({
    callerOf: (context) => {
      const { auth } = context as Context & ServerContext;
      if (!auth?.viewer) return null;
      // A WebSocket closes as a whole at the token's expiry (4403); SSE streams end one by one.
      const followsToken = edge.streamsFollowTokens && !(context as ServerContext).wsInfo;
      return { userId: auth.viewer.userId, expiresAt: followsToken ? auth.expiresAt : null };
    },
    acquire: async (userId) => (edge.subscriptionCaps ? subscriptionQuota.acquire(userId) : uncounted),
    maxPerUser: edge.maxSubscriptionsPerUser,
  });

  const yoga = createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    // Bugs are masked in every environment (no stack traces); an unavailable dependency says so.
    maskedErrors: { ...(unavailableAwareMasking(logger) as object), isDev: false },
    landingPage: false,
    multipart: false,
    cors: edge.corsOrigins.length > 0 ? { origin: edge.corsOrigins, credentials: false, methods: ['GET', 'POST'] } : false,
    extraParamNames: HASH_PARAMS,
    renderGraphiQL,
    graphiql: edge.graphiql ? { title: 'Credit deployment API', subscriptionsProtocol: 'SSE' } : false,
    logging: {
      debug: (...args) => logger.debug({ yoga: args }, 'yoga'),
      info: (...args) => logger.info({ yoga: args }, 'yoga'),
      warn: (...args) => logger.warn({ yoga: args }, 'yoga'),
      error: (...args) => logger.error({ err: args[0], yoga: args.slice(1) }, 'yoga error'),
    },
    plugins: [
      ...(tracingStarted() ? [phaseSpansPlugin] : []),
      correlationHeader,
      securityHeadersPlugin,
      useCSRFPrevention({ requestHeaders: ['x-graphql-yoga-csrf', ...APOLLO_CSRF_SAFE_HEADERS] }),
      anonymousLimit,
      persisted,
      ...documentLimitsPlugins(edge.limits, edge.documentLimits),
      ...(rateLimits ? [callerLimitsPlugin(rateLimits, viewerOf)] : []),
      ...(edge.subscriptionCaps || edge.streamsFollowTokens ? [streamGuard] : []),
      graphqlMetrics,
    ],
    context: async ({ request, req, wsInfo, wsAuth }) => {
      const info = wsInfo ?? infoFromNode(req!, request.headers.get('authorization'), edge.trustedProxies);
      const correlationId = correlationIdFrom(info.requestId);
      correlationIds.set(request, correlationId);
      annotateActiveSpan({ correlation_id: correlationId });
      const auth = wsAuth ?? (await authFor(request));
      const proof = auth.viewer ? { tokenId: auth.tokenId ?? null, tokenIssuedAt: auth.issuedAt ? new Date(auth.issuedAt) : null } : { tokenId: null, tokenIssuedAt: null };
      return {
        auth,
        origin: { correlationId, ipAddress: info.ipAddress, userAgent: truncate(info.userAgent, USER_AGENT_MAX), ...proof },
        log: logger.child({ correlationId }),
        services,
      };
    },
  });

  /** The larger cap only for a valid credit-engine token, checked only when a body is over the common one. */
  const bodyCapFor = async (req: IncomingMessage): Promise<number> => {
    if (bodyRefusal(req, edge.maxBodyBytes) !== 413 || edge.maxServiceBodyBytes <= edge.maxBodyBytes) return edge.maxBodyBytes;
    const { viewer } = await authenticate(req.headers.authorization).catch(() => ({ viewer: null }));
    return viewer?.roles.includes('credit-engine') ? edge.maxServiceBodyBytes : edge.maxBodyBytes;
  };

  const readyNow = cachedCheck(ready);
  let forwardedWarned = false;
  const watchForwarded = forwardedForWatch(edge.trustedProxies, () => {
    forwardedForIgnored.inc();
    if (forwardedWarned) return;
    forwardedWarned = true;
    logger.warn(
      'X-Forwarded-For arrives while TRUSTED_PROXIES=0: behind a proxy or load balancer every client shares its address (one rate limit bucket, its address in consent evidence); set TRUSTED_PROXIES to the number of proxies',
    );
  });

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    watchForwarded(req);
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (path === '/ready') {
      const ok = await readyNow();
      return sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready' });
    }
    const maxBytes = await bodyCapFor(req);
    const refusal = bodyRefusal(req, maxBytes);
    if (refusal) {
      const message = refusal === 413 ? `The request body is over ${maxBytes} bytes` : 'A Content-Length is required';
      res.setHeader('connection', 'close');
      return sendJson(res, refusal, { errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
    }
    return traceRequest(req, res, () => yoga(req, res, { req }));
  });

  const webSocket = attachWebSocket({
    server,
    path: GRAPHQL_PATH,
    yoga,
    edge,
    rateLimits,
    authenticate,
    persistedOperations,
    requestInfo: (req) => infoFromNode(req, null, edge.trustedProxies),
    watchForwarded,
    mayRunDocuments: (auth) => mayRunDocuments(auth, edge.allowDocuments),
  });

  return {
    server,
    async listen(port: number, host: string): Promise<string> {
      await new Promise<void>((resolve) => server.listen(port, host, resolve));
      const address = server.address() as AddressInfo;
      return `http://${host}:${address.port}`;
    },
    /** Stops accepting, ends open subscriptions (SSE and WebSocket), then closes the server. */
    async close(): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await webSocket.close();
      server.closeIdleConnections();
      await yoga.dispose();
      server.closeAllConnections();
      await closed;
    },
  };
}

/** A server span for the request, continuing the client's W3C trace context (traceparent) when it sends one. */
function traceRequest(req: IncomingMessage, res: ServerResponse, handle: () => unknown) {
  const carrier = Object.fromEntries(
    ['traceparent', 'tracestate'].flatMap((name) => (typeof req.headers[name] === 'string' ? [[name, req.headers[name]]] : [])),
  );
  const { span, context } = startSpan(`${req.method} ${GRAPHQL_PATH}`, {
    kind: SpanKind.SERVER,
    parent: contextFrom(carrier),
    attributes: { 'http.request.method': req.method, 'url.path': GRAPHQL_PATH },
  });
  res.once('close', () => {
    span.setAttribute('http.response.status_code', res.statusCode);
    span.end();
  });
  return traceContext.with(context, handle);
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
