// The HTTP server: GraphQL over HTTP and SSE (yoga), WebSocket (graphql-ws) on the same path,
// GraphiQL served offline, /health and /ready.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Authenticate } from './auth.ts';
import { unavailableAwareMasking } from './unavailable.ts';
import type { Context, Services } from '../schema/context.ts';
import type { Logger } from '../platform/logger.ts';
import { schema } from '../schema/index.ts';

const GRAPHQL_PATH = '/graphql';
const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** What the transports know about a request before GraphQL runs. */
interface RequestInfo {
  authorization: string | null;
  requestId: string | null;
  userAgent: string | null;
  ipAddress: string | null;
}

interface ServerContext {
  req?: IncomingMessage;
  /** Set by the WebSocket transport, which has no fetch Request. */
  wsInfo?: RequestInfo;
}

function correlationIdFrom(requestId: string | null): string {
  return requestId && REQUEST_ID.test(requestId) ? requestId : randomUUID();
}

function infoFromNode(req: IncomingMessage, authorization: string | null): RequestInfo {
  const header = (name: string) => {
    const value = req.headers[name];
    return (Array.isArray(value) ? value[0] : value) ?? null;
  };
  return {
    authorization,
    requestId: header('x-request-id'),
    userAgent: header('user-agent'),
    ipAddress: req.socket.remoteAddress ?? null,
  };
}

export interface ApiServerDeps {
  services: Services;
  logger: Logger;
  authenticate: Authenticate;
  /** Checks the process's own dependencies for /ready. */
  ready: () => Promise<boolean>;
}

export function createApiServer({ services, logger, authenticate, ready }: ApiServerDeps) {
  const correlationIds = new WeakMap<Request, string>();
  // Echo the correlation id, so a client can quote it when something goes wrong.
  const correlationHeader: Plugin = {
    onResponse({ request, response }) {
      const id = correlationIds.get(request);
      if (id) response.headers.set('x-request-id', id);
    },
  };

  const yoga = createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    maskedErrors: unavailableAwareMasking(logger),
    landingPage: false,
    renderGraphiQL,
    graphiql: { title: 'Credit deployment API', subscriptionsProtocol: 'SSE' },
    logging: {
      debug: (...args) => logger.debug({ yoga: args }, 'yoga'),
      info: (...args) => logger.info({ yoga: args }, 'yoga'),
      warn: (...args) => logger.warn({ yoga: args }, 'yoga'),
      error: (...args) => logger.error({ err: args[0], yoga: args.slice(1) }, 'yoga error'),
    },
    plugins: [correlationHeader],
    context: async ({ request, req, wsInfo }) => {
      const info = wsInfo ?? infoFromNode(req!, request.headers.get('authorization'));
      const correlationId = correlationIdFrom(info.requestId);
      correlationIds.set(request, correlationId);
      return {
        auth: await authenticate(info.authorization),
        origin: { correlationId, ipAddress: info.ipAddress, userAgent: info.userAgent },
        log: logger.child({ correlationId }),
        services,
      };
    },
  });

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (path === '/ready') {
      const ok = await ready().catch(() => false);
      return sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready' });
    }
    return yoga(req, res, { req });
  });

  const wsServer = new WebSocketServer({ server, path: GRAPHQL_PATH });
  const wsCleanup = useServer(
    {
      execute: (args: any) => args.rootValue.execute(args),
      subscribe: (args: any) => args.rootValue.subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const authorization = ctx.connectionParams?.authorization;
        const wsInfo = infoFromNode(ctx.extra.request, typeof authorization === 'string' ? authorization : null);
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          wsInfo,
          request: new Request('http://ws.local/graphql'),
          params,
        });
        const args = {
          schema,
          operationName: params.operationName,
          document: parse(params.query),
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        return errors.length > 0 ? errors : args;
      },
    },
    wsServer,
  );

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
      await wsCleanup.dispose();
      wsServer.close();
      server.closeIdleConnections();
      await yoga.dispose();
      server.closeAllConnections();
      await closed;
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
