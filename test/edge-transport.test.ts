// The transports, as an attacker uses them: a WebSocket that opens hundreds of subscriptions or
// sends 30 MB, a syntax error on a shared socket, a user holding streams open on every API
// process, an HTTP body of megabytes, cross-site requests, forged X-Forwarded-For, a huge user
// agent. Each gets its refusal, nothing changes, and the next honest request is served.
import { randomBytes } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { prisma } from '../src/platform/db.ts';
import { gql, newUserId, socketClient as openSocket, subscribeOn, token } from './support/client.ts';
import { acceptOffer, issueOffer } from './support/fixtures.ts';
import { killHard, spawnService } from './support/processes.ts';
import { processLogs } from './support/logs.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig } from './support/settings.ts';
import { waitUntil } from './support/wait.ts';

const MAX_PER_USER = 24;
// Long enough for a freshly started process's heartbeat on a loaded machine.
const SLOT_TTL_MS = 3000;
const edgeEnv = { MAX_SUBSCRIPTIONS_PER_USER: String(MAX_PER_USER), SUBSCRIPTION_SLOT_TTL_MS: String(SLOT_TTL_MS) };
const service = serviceForTests({ worker: false, config: { ...testConfig, MAX_SUBSCRIPTIONS_PER_USER: MAX_PER_USER, SUBSCRIPTION_SLOT_TTL_MS: SLOT_TTL_MS } });
const second = serviceForTests({ worker: false, config: { ...testConfig, MAX_SUBSCRIPTIONS_PER_USER: MAX_PER_USER, SUBSCRIPTION_SLOT_TTL_MS: SLOT_TTL_MS } });
const proxied = serviceForTests({ worker: false, config: { ...testConfig, TRUSTED_PROXIES: 1, CORS_ORIGINS: ['https://app.example.test'] } });

const wsUrl = (url: string) => `${url.replace(/^http/, 'ws')}/graphql`;
const clients: Client[] = [];
afterAll(() => Promise.all(clients.map((c) => c.dispose())));

function socketClient(url: string, jwt: string, onClosed?: (code: number) => void): Client {
  const client = openSocket(url, jwt, onClosed);
  clients.push(client);
  return client;
}

const NOTIFICATIONS = 'subscription { notifications { id } }';

/** A live notifications subscription on the socket; its `outcome` is the refusal's errors when refused. */
const subscribeNotifications = (client: Client) => subscribeOn(client, NOTIFICATIONS);

/** Whether a query over this socket is answered. */
async function socketServes(client: Client, userId: string) {
  const answer = await new Promise<any>((resolve, reject) =>
    client.subscribe({ query: '{ me { id } }' }, { next: resolve, error: reject, complete: () => {} }),
  );
  expect(answer.data.me.id).toBe(userId);
}

describe('WebSocket', () => {
  it('refuses a 21st subscription on one socket; the other 20 live on', async () => {
    const userId = newUserId();
    const client = socketClient(service.url, await token(userId));
    const subscriptions = Array.from({ length: 20 }, () => subscribeNotifications(client));
    await socketServes(client, userId); // one more operation runs: the 20 are held, not refused
    const extra = subscribeNotifications(client);
    const refusal = (await extra.outcome) as { message: string; extensions?: { code?: string } }[];
    expect(refusal[0]?.extensions?.code).toBe('TOO_MANY_SUBSCRIPTIONS');
    subscriptions[0]!.stop();
    await socketServes(client, userId);
    for (const s of subscriptions) s.stop();
  });

  it(`refuses a user's subscription beyond ${MAX_PER_USER} across API processes, and frees the slots of a process that died`, async () => {
    const userId = newUserId();
    const jwt = await token(userId);
    // A third API process, killed later: it holds 10 of the user's streams.
    const child = spawnService('api', { ...edgeEnv, PORT: '0', LOG_LEVEL: 'info' }, { stdout: 'pipe' });
    try {
      const started = await processLogs(child).next((e) => typeof e.url === 'string' && e.url.startsWith('http:'));
      const childUrl = started.url as string;
      const onChild = socketClient(childUrl, jwt);
      const held = Array.from({ length: 10 }, () => subscribeNotifications(onChild));
      await socketServes(onChild, userId);
      const first = socketClient(service.url, jwt);
      const other = socketClient(second.url, jwt);
      const live = [...Array.from({ length: 7 }, () => subscribeNotifications(first)), ...Array.from({ length: 7 }, () => subscribeNotifications(other))];
      await socketServes(first, userId);
      await socketServes(other, userId);
      const refused = (await subscribeNotifications(first).outcome) as { extensions?: { code?: string } }[];
      expect(refused[0]?.extensions?.code).toBe('TOO_MANY_SUBSCRIPTIONS');
      expect(held.length + live.length).toBe(MAX_PER_USER);

      await killHard(child);
      // Its 10 slots come back once their heartbeat stops for a TTL.
      await waitUntil(async () => {
        const attempt = subscribeNotifications(first);
        const outcome = await Promise.race([attempt.outcome, socketServes(first, userId).then(() => 'live')]);
        if (outcome === 'live') return true;
        attempt.stop();
        return false;
      }, 'a freed slot', SLOT_TTL_MS * 4);
      for (const s of live) s.stop();
    } finally {
      await killHard(child);
    }
  }, 90_000); // a third API process starts (tsx), slow on a loaded 2-core machine

  it('closes a socket that sends a message over 64 KiB (a 30 MB one too); new sockets are served', async () => {
    for (const size of [64 * 1024 + 1, 30 * 1024 * 1024]) {
      const socket = new WebSocket(wsUrl(service.url), 'graphql-transport-ws');
      await new Promise((resolve) => socket.once('open', resolve));
      const closed = new Promise<number>((resolve) => socket.once('close', resolve));
      socket.on('error', () => {});
      socket.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(size) } }));
      // 1009 (message too big); a 30 MB send may see the connection reset before the close frame (1006).
      expect(size > 1024 * 1024 ? [1009, 1006] : [1009]).toContain(await closed);
    }
    const userId = newUserId();
    await socketServes(socketClient(service.url, await token(userId)), userId);
  });

  it('answers a syntax error with an error for that operation only; the socket and its streams live on', async () => {
    const userId = newUserId();
    const closes: number[] = [];
    const client = socketClient(service.url, await token(userId), (code) => closes.push(code));
    const stream = subscribeNotifications(client);
    await socketServes(client, userId);
    const errors = await new Promise<any>((resolve) => client.subscribe({ query: '{ me { id ' }, { next: (m) => resolve(m.errors), error: resolve, complete: () => {} }));
    expect(errors[0].message).toMatch(/Syntax Error/);
    await socketServes(client, userId);
    expect(closes).toEqual([]);
    stream.stop();
  });
});

describe('HTTP', () => {
  it('refuses a body over 64 KiB with 413, changing nothing', async () => {
    const userId = newUserId();
    const response = await fetch(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(userId)}` },
      body: JSON.stringify({ query: '{ me { id } }', variables: { pad: 'x'.repeat(70 * 1024) } }),
    });
    expect(response.status).toBe(413);
    expect(await prisma.user.count({ where: { id: userId } })).toBe(0);
    expect((await gql(service.url, '{ me { id } }', {}, await token(userId))).data.me.id).toBe(userId);
  });

  it('refuses simple (CSRF-able) requests: a form post, a GET without the preflight header', async () => {
    const jwt = await token(newUserId());
    const form = await fetch(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${jwt}` },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(form.status).toBeGreaterThanOrEqual(400);
    const get = await fetch(`${service.url}/graphql?query=${encodeURIComponent('{ me { id } }')}`, { headers: { authorization: `Bearer ${jwt}` } });
    expect(get.status).toBe(403);
  });

  it('refuses multipart uploads', async () => {
    const body = new FormData();
    body.set('operations', JSON.stringify({ query: '{ me { id } }' }));
    const response = await fetch(`${service.url}/graphql`, { method: 'POST', body, headers: { 'x-graphql-yoga-csrf': '1' } });
    expect(response.status).toBeGreaterThanOrEqual(400);
  });

  it('answers no cross-origin caller by default; an allowed origin only where configured', async () => {
    const preflight = (url: string, origin: string) =>
      fetch(`${url}/graphql`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    const evil = await preflight(service.url, 'https://evil.example.test');
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    expect(evil.headers.get('access-control-allow-credentials')).toBeNull();
    const allowed = await preflight(proxied.url, 'https://app.example.test');
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.test');
    const other = await preflight(proxied.url, 'https://evil.example.test');
    expect(other.headers.get('access-control-allow-origin')).not.toBe('https://evil.example.test');
  });

  it('sends security headers', async () => {
    const result = await gql(service.url, '{ me { id } }', {}, await token(newUserId()));
    expect(result.headers.get('x-content-type-options')).toBe('nosniff');
    expect(result.headers.get('x-frame-options')).toBe('DENY');
    expect(result.headers.get('content-security-policy')).toContain("default-src 'none'");
  });
});

describe('consent evidence', () => {
  async function acceptVia(url: string, headers: Record<string, string>) {
    const { offerId, userId } = await issueOffer(url);
    await acceptOffer(url, offerId, await token(userId), headers);
    return prisma.acceptanceConsent.findFirstOrThrow({ where: { offerId } });
  }

  it('takes the client address from the trusted proxy, not from what the client wrote', async () => {
    const forwarded = { 'x-forwarded-for': '6.6.6.6, 203.0.113.7' };
    expect((await acceptVia(proxied.url, forwarded)).ipAddress).toBe('203.0.113.7');
    expect((await acceptVia(service.url, forwarded)).ipAddress).toMatch(/127\.0\.0\.1/);
  });

  it('stores the user agent truncated', async () => {
    const consent = await acceptVia(service.url, { 'user-agent': `app/1.0 ${randomBytes(3000).toString('hex')}` });
    expect(consent.userAgent!.length).toBe(512);
    expect(consent.userAgent!.startsWith('app/1.0 ')).toBe(true);
  });
});
