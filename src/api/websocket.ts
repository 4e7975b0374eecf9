// GraphQL over WebSocket (graphql-ws) on the API's path: the same edge as HTTP and SSE (a token at
// connection_init, closed with 4403 at its expiry; connects rate limited per address; persisted
// operations, document limits and cost per operation; a cap of live subscriptions per socket),
// executed through yoga's envelop so its plugins apply here too.
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { getOperationAST, GraphQLError, type DocumentNode, type GraphQLFormattedError } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { AuthResult } from '../domain/viewer.ts';
import { gauge } from '../platform/metrics.ts';
import type { Context } from '../schema/context.ts';
import type { Authenticate } from './auth.ts';
import { costLimitError } from './document-cost.ts';
import { clientVersionOf, documentFor, persistedSubscribeReviver, registryUnavailableError, type PersistedOperations } from './persisted-operations.ts';
import type { RateLimits } from './rate-limits.ts';
import type { EdgeSettings, RequestInfo, ServerContext } from './server.ts';
import { addressKey, clientIp } from './transport.ts';

const websocketConnections = gauge({ name: 'credit_websocket_connections', help: 'Open WebSocket connections' });

/** What the WebSocket transport keeps per socket. */
type SocketExtra = {
  auth?: AuthResult;
  expiryTimer?: NodeJS.Timeout;
  /** Ids of the socket's live subscriptions, reserved when their Subscribe message is read. */
  streams?: Set<string>;
};

export interface WebSocketDeps {
  server: HttpServer;
  path: string;
  yoga: YogaServerInstance<ServerContext, Context>;
  edge: EdgeSettings;
  /** null: no rate limits (the bench's on/off comparison only). */
  rateLimits: RateLimits | null;
  authenticate: Authenticate;
  persistedOperations: PersistedOperations;
  /** What the upgrade request says of the client (address, user agent, request id). */
  requestInfo(req: IncomingMessage): RequestInfo;
  /** Notices an X-Forwarded-For that no trusted proxy wrote. */
  watchForwarded(req: IncomingMessage): void;
  mayRunDocuments(auth: AuthResult): boolean;
}

export function attachWebSocket({ server, path, yoga, edge, rateLimits, authenticate, persistedOperations, requestInfo, watchForwarded, mayRunDocuments }: WebSocketDeps) {
  const wsServer = new WebSocketServer({
    server,
    path,
    maxPayload: edge.maxWsPayloadBytes,
    // Connects are limited per client address before the handshake: 429 with Retry-After.
    verifyClient: (info, accept) => {
      watchForwarded(info.req);
      if (!rateLimits) return accept(true);
      void rateLimits.consume('websocket-connect', addressKey(clientIp(info.req, edge.trustedProxies))).then((refusal) =>
        refusal ? accept(false, 429, 'Too Many Requests', { 'Retry-After': String(refusal.retryAfterSeconds) }) : accept(true),
      );
    },
  });
  wsServer.on('connection', (socket) => {
    websocketConnections.inc();
    socket.once('close', () => websocketConnections.dec());
  });
  const wsCleanup = useServer<Record<string, unknown> | undefined, SocketExtra>(
    {
      jsonMessageReviver: persistedSubscribeReviver,
      execute: (args: any) => args.rootValue.execute(args),
      subscribe: (args: any) => args.rootValue.subscribe(args),
      // No valid token: close 4403 without an ack. At the token's expiry: close 4403, and the
      // client reconnects with a fresh one.
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization;
        const auth = await authenticate(typeof authorization === 'string' ? authorization : null);
        if (!auth.viewer) return false;
        ctx.extra.auth = auth;
        if (auth.expiresAt !== null && edge.streamsFollowTokens) {
          const socket = ctx.extra.socket;
          ctx.extra.expiryTimer = setTimeout(() => socket.close(4403, 'token expired'), Math.max(0, auth.expiresAt - Date.now()));
          socket.once('close', () => clearTimeout(ctx.extra.expiryTimer));
        }
        return true;
      },
      // extensions.http is for HTTP responses (yoga drops it there): not sent on a socket.
      onError: (_ctx, _id, _payload, errors) => errors.map(withoutHttp),
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: result.errors.map(withoutHttp) } : undefined),
      onSubscribe: async (ctx, id, params) => {
        const auth = ctx.extra.auth!;
        const wsInfo = requestInfo(ctx.extra.request);
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          wsInfo,
          wsAuth: auth,
          request: new Request('http://ws.local/graphql'),
          params,
        });
        // A bad document fails this operation only: its errors go to its id, the socket stays.
        let source: string;
        try {
          const client = clientVersionOf(upgradeHeaders(ctx.extra.request));
          source = await documentFor(persistedOperations, params as Parameters<typeof documentFor>[1], mayRunDocuments(auth), client);
        } catch (error) {
          return [error instanceof GraphQLError ? error : registryUnavailableError()];
        }
        let document: DocumentNode;
        try {
          document = parse(source);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError('Syntax Error: the document could not be parsed')];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        const tooCostly = edge.documentLimits && costLimitError(schema, document, params.operationName, params.variables, edge.limits.maxCost);
        if (tooCostly) return [tooCostly];
        // Live streams are what a socket holds (queries and mutations come and go). Counted here,
        // before the first await: graphql-ws fills its own entry only once `subscribe` resolves,
        // so a burst of Subscribe messages would all pass a count of those.
        if (edge.subscriptionCaps && getOperationAST(document, params.operationName)?.operation === 'subscription') {
          const streams = (ctx.extra.streams ??= new Set());
          // An id graphql-ws no longer holds has ended, however it ended (complete, error, close).
          for (const held of streams) if (!(held in ctx.subscriptions)) streams.delete(held);
          if (streams.size >= edge.maxSubscriptionsPerSocket) {
            return [
              new GraphQLError(`At most ${edge.maxSubscriptionsPerSocket} live subscriptions on one socket`, { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } }),
            ];
          }
          streams.add(id);
        }
        return {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
      },
    },
    wsServer,
  );

  return {
    /** Ends every subscription and closes the sockets. */
    async close(): Promise<void> {
      await wsCleanup.dispose();
      wsServer.close();
    },
  };
}

/** The upgrade request's headers (Apollo's clients identify themselves there). */
function upgradeHeaders(req: IncomingMessage) {
  return { get: (name: string) => ([req.headers[name]].flat()[0] ?? null) as string | null };
}

function withoutHttp(error: GraphQLError): GraphQLFormattedError {
  const { http: _http, ...extensions } = (error.extensions ?? {}) as Record<string, unknown>;
  const formatted = typeof error.toJSON === 'function' ? error.toJSON() : (error as GraphQLFormattedError);
  return { ...formatted, ...(Object.keys(extensions).length > 0 ? { extensions } : { extensions: undefined }) };
}

