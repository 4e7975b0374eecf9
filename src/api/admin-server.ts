// The admin server: /metrics (Prometheus) and the queue board, on a port of its own that is
// never the public one (loopback by default). The board is Bull Board: read-only at /board for
// the `ops` role; /manage, for `ops-admin`, may retry or remove a job, and nothing else.
// /metrics needs the scrape token when one is configured. A browser signs in at /login (a small
// body, a CSRF token) and gets an opaque session id in its cookie, mapped in Redis to the token's
// subject and roles until the token expires.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Queue } from 'bullmq';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie, setCookie } from 'hono/cookie';
import type { Logger } from 'pino';
import type { AdminSessions } from './admin-sessions.ts';

/** What the board needs to know of the caller: their `sub` and roles, or why there are none. */
export type AdminAuth = (
  authorization: string | null,
) => Promise<{ viewer: { userId: string; roles: string[] }; expiresAt: number | null } | { viewer: null; reason: string }>;

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
  sessions: AdminSessions;
  /** When set, /metrics needs `Authorization: Bearer <scrapeToken>`. */
  scrapeToken: string | null;
}

type Env = { Variables: { actor: string } };

/** Over TLS the session cookie is `__Host-` (Secure, this host only); on plain http (loopback) it cannot be. */
const SESSION_COOKIE = { tls: '__Host-admin_session', plain: 'admin_session' };
const CSRF_COOKIE = 'admin_csrf';
/** A token is a few hundred bytes: nothing larger is read. */
const LOGIN_BODY_MAX = 8 * 1024;
const READ_ROLES = ['ops', 'ops-admin'];
/** The only changes /manage allows: retry or remove one job. */
const JOB_ACTION = /^\/manage\/api\/queues\/([^/]+)\/([^/]+)\/(retry|clean)$/;

export function createAdminServer({ scrape, queues, authenticate, retryRefusal, logger, sessions, scrapeToken, routes = {} }: AdminServerDeps) {
  const log = logger.child({ component: 'admin' });
  const app = new Hono<Env>();

  app.get('/metrics', async (c) => {
    if (scrapeToken && !sameSecret(/^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1], scrapeToken)) {
      return c.text('the scrape token is required', 401, { 'www-authenticate': 'Bearer' });
    }
    const { contentType, body } = await scrape();
    return c.body(body, 200, { 'content-type': contentType });
  });
  app.get('/health', (c) => c.json({ status: 'ok' }));
  for (const [path, routed] of Object.entries(routes)) app.route(path, routed);

  // A browser cannot send an Authorization header: the token is pasted once and exchanged for a
  // session. The form carries a CSRF token that must match its cookie (double submit).
  const loginPage = (c: Context<Env>, status: 200 | 401 | 403, error = '') => {
    const csrf = randomBytes(32).toString('hex');
    setCookie(c, CSRF_COOKIE, csrf, { httpOnly: true, sameSite: 'Strict', path: '/login', secure: overTls(c) });
    return c.html(LOGIN_PAGE.replace('<!--error-->', error).replace('<!--csrf-->', csrf), status);
  };
  app.get('/login', (c) => loginPage(c, 200));
  app.post(
    '/login',
    bodyLimit({ maxSize: LOGIN_BODY_MAX, onError: (c) => c.text(`the sign-in body is over ${LOGIN_BODY_MAX} bytes`, 413) }),
    async (c) => {
      const form = await c.req.parseBody();
      if (!sameSecret(String(form.csrf ?? ''), getCookie(c, CSRF_COOKIE))) {
        return loginPage(c, 403, '<p role="alert">The sign-in form expired: try again.</p>');
      }
      const auth = await authenticate(`Bearer ${String(form.token ?? '').trim()}`);
      if (!auth.viewer) return loginPage(c, 401, '<p role="alert">That token is not valid.</p>');
      if (!auth.viewer.roles.some((role) => READ_ROLES.includes(role))) return loginPage(c, 403, '<p role="alert">That token has no ops role.</p>');
      const expiresAt = auth.expiresAt ?? Date.now() + 3_600_000;
      const id = await sessions.create({ userId: auth.viewer.userId, roles: auth.viewer.roles }, expiresAt);
      const tls = overTls(c);
      setCookie(c, tls ? SESSION_COOKIE.tls : SESSION_COOKIE.plain, id, {
        httpOnly: true,
        sameSite: 'Strict',
        path: '/',
        secure: tls,
        maxAge: Math.max(1, Math.floor((expiresAt - Date.now()) / 1000)),
      });
      log.info({ actor: auth.viewer.userId }, 'admin signed in');
      return c.redirect(auth.viewer.roles.includes('ops-admin') ? '/manage' : '/board');
    },
  );

  for (const path of ['/board', '/board/*']) app.use(path, requireRole(authenticate, sessions, READ_ROLES));
  for (const path of ['/manage', '/manage/*']) app.use(path, requireRole(authenticate, sessions, ['ops-admin']));
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

/** Whether the request reached us (or the proxy in front) over TLS. */
const overTls = (c: Context<Env>) => new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';

function sameSecret(given: string | undefined, expected: string | undefined): boolean {
  if (!given || !expected) return false;
  const [a, b] = [Buffer.from(given), Buffer.from(expected)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The caller (a token in the header, else the session of the sign-in cookie) must carry one of the roles. */
function requireRole(authenticate: AdminAuth, sessions: AdminSessions, roles: string[]): MiddlewareHandler<Env> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    const sessionId = getCookie(c, SESSION_COOKIE.tls) ?? getCookie(c, SESSION_COOKIE.plain);
    const session = !header && sessionId ? await sessions.get(sessionId) : null;
    const auth = session ? { viewer: session } : header ? await authenticate(header) : { viewer: null, reason: sessionId ? 'the session ended' : 'no token' };
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
  <input type="hidden" name="csrf" value="<!--csrf-->">
  <label>Token (role ops or ops-admin) <input name="token" type="password" autocomplete="off" required></label>
  <button type="submit">Sign in</button>
</form></body></html>`;
