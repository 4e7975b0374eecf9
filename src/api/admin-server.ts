// The admin server: /metrics (Prometheus) and the queue board, on a port of its own that is
// never the public one (loopback by default). The board is Bull Board: read-only at /board for
// the `ops` role; /manage, for `ops-admin`, may retry or remove a job, and nothing else.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Queue } from 'bullmq';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import type { Logger } from 'pino';

/** What the board needs to know of the caller: their `sub` and roles, or why there are none. */
export type AdminAuth = (authorization: string | null) => Promise<{ viewer: { userId: string; roles: string[] } } | { viewer: null; reason: string }>;

export interface AdminServerDeps {
  /** The Prometheus text of this process. */
  scrape: () => Promise<{ contentType: string; body: string }>;
  queues: Queue<any>[];
  authenticate: AdminAuth;
  /** Why retrying this job is refused (e.g. its deployment is already final), or null to allow it. */
  retryRefusal: (queueName: string, jobId: string) => Promise<string | null>;
  logger: Logger;
  /** More endpoints, each under its own path (e.g. /operations in an API process). */
  routes?: Record<string, Hono>;
}

type Env = { Variables: { actor: string } };

const COOKIE = 'admin_token';
const READ_ROLES = ['ops', 'ops-admin'];
/** The only changes /manage allows: retry or remove one job. */
const JOB_ACTION = /^\/manage\/api\/queues\/([^/]+)\/([^/]+)\/(retry|clean)$/;

export function createAdminServer({ scrape, queues, authenticate, retryRefusal, logger, routes = {} }: AdminServerDeps) {
  const log = logger.child({ component: 'admin' });
  const app = new Hono<Env>();

  app.get('/metrics', async (c) => {
    const { contentType, body } = await scrape();
    return c.body(body, 200, { 'content-type': contentType });
  });
  app.get('/health', (c) => c.json({ status: 'ok' }));
  for (const [path, routed] of Object.entries(routes)) app.route(path, routed);

  // A browser cannot send an Authorization header: the token is pasted once and kept in a cookie.
  app.get('/login', (c) => c.html(LOGIN_PAGE));
  app.post('/login', async (c) => {
    const token = String((await c.req.parseBody()).token ?? '').trim();
    const auth = await authenticate(`Bearer ${token}`);
    if (!auth.viewer) return c.html(LOGIN_PAGE.replace('<!--error-->', '<p role="alert">That token is not valid.</p>'), 401);
    setCookie(c, COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/' });
    return c.redirect(auth.viewer.roles.includes('ops-admin') ? '/manage' : '/board');
  });

  for (const path of ['/board', '/board/*']) app.use(path, requireRole(authenticate, READ_ROLES));
  for (const path of ['/manage', '/manage/*']) app.use(path, requireRole(authenticate, ['ops-admin']));
  app.use('/manage/*', async (c, next) => {
    if (c.req.method === 'GET') return next();
    const match = JOB_ACTION.exec(c.req.path);
    const actor = c.get('actor');
    if (!match) return c.json({ error: 'only retrying or removing one job is allowed here' }, 403);
    const [, queueName, jobId, action] = match.map(decodeURIComponent) as [string, string, string, string];
    const entry = { actor, action: action === 'clean' ? 'remove' : 'retry', queue: queueName, jobId };
    if (action === 'retry') {
      const refusal = await retryRefusal(queueName, jobId);
      if (refusal) {
        log.warn({ ...entry, refusal }, 'board action refused');
        return c.json({ error: refusal }, 409);
      }
    }
    await next();
    log.info({ ...entry, status: c.res.status }, 'board action');
  });
  // Bull Board is loaded on the first visit, not at start: it is most of the admin server's code.
  let boards: Promise<Hono> | null = null;
  const serveBoard = async (c: Context<Env>) => (await (boards ??= loadBoards(queues))).fetch(c.req.raw);
  for (const path of ['/board', '/board/*', '/manage', '/manage/*']) app.all(path, serveBoard);

  const server: Server = createServer(getRequestListener(app.fetch));
  return {
    server,
    async listen(port: number, host: string): Promise<string> {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      return `http://${host}:${(server.address() as AddressInfo).port}`;
    },
    async close(): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** The read-only board at /board and the one that may retry or remove at /manage. */
async function loadBoards(queues: Queue<any>[]): Promise<Hono> {
  const [{ createBullBoard }, { BullMQAdapter }, { HonoAdapter }, { serveStatic }] = await Promise.all([
    import('@bull-board/api'),
    import('@bull-board/api/bullMQAdapter'),
    import('@bull-board/hono'),
    import('@hono/node-server/serve-static'),
  ]);
  const boards = new Hono();
  for (const [basePath, readOnlyMode] of [['/board', true], ['/manage', false]] as const) {
    const adapter = new HonoAdapter(serveStatic).setBasePath(basePath);
    createBullBoard({
      queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode })),
      serverAdapter: adapter,
      options: { uiConfig: { boardTitle: readOnlyMode ? 'Credit queues' : 'Credit queues (manage)' } },
    });
    boards.route(basePath, adapter.registerPlugin());
  }
  return boards;
}

/** The caller's token (header, else the login cookie) must carry one of the roles. */
function requireRole(authenticate: AdminAuth, roles: string[]): MiddlewareHandler<Env> {
  return async (c, next) => {
    const cookie = getCookie(c, COOKIE);
    const auth = await authenticate(c.req.header('authorization') ?? (cookie ? `Bearer ${cookie}` : null));
    if (!auth.viewer) return refuse(c, 401, `authentication required: ${auth.reason}`);
    if (!auth.viewer.roles.some((role) => roles.includes(role))) return refuse(c, 403, `this needs the role ${roles.join(' or ')}`);
    c.set('actor', auth.viewer.userId);
    await next();
  };
}

function refuse(c: Context<Env>, status: 401 | 403, message: string) {
  if (c.req.path.includes('/api/')) return c.json({ error: message }, status);
  return c.html(`<!doctype html><title>Refused</title><p>${status === 401 ? 'Not signed in' : 'Forbidden'}: ${message}.</p><p><a href="/login">Sign in with a token</a></p>`, status);
}

const LOGIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in: credit queues</title></head>
<body><h1>Credit queues</h1><!--error-->
<form method="post" action="/login">
  <label>Token (role ops or ops-admin) <input name="token" type="password" autocomplete="off" required></label>
  <button type="submit">Sign in</button>
</form></body></html>`;
