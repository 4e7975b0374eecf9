// The per-user budget: every operation of a signed-in caller, on HTTP, SSE and WebSocket alike,
// takes 10 points plus its document's cost from a budget per minute shared by the API processes
// (Redis). Over it: RATE_LIMITED with retryAfterSeconds (429 on HTTP), nothing run, other users
// served. An accept takes its budget and its mutation limit in one Redis round trip; `me` reads
// without writing once the user exists.
import { once } from 'node:events';
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { prisma } from '../src/platform/db.ts';
import { collect, gql, newUserId, socketClient, sseSubscribe, subscribeOn, token } from './support/client.ts';
import { ACCEPT_OFFER, issueOffer } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig } from './support/settings.ts';

// 10 + 1 (me) + 1 (offers) + 100 (the variable's default page) x 8 = 812 points; the budget is
// 13 of them exactly, so that once they ran even the cheapest operation is over.
const HEAVY_READ = 'query ($n: Int = 100) { me { offers(first: $n) { id status interestRateBps createdAt limit { cents currency formatted } } } }';
const HEAVY_READS_PER_MINUTE = 13;
const BUDGET = 812 * HEAVY_READS_PER_MINUTE;
const config = { ...testConfig, RATE_LIMIT_USER_BUDGET_PER_MINUTE: BUDGET };
const service = serviceForTests({ config });
const second = serviceForTests({ worker: false, config });


function expectRefused(result: { status: number; headers: Headers; data?: unknown; errors?: { extensions?: Record<string, unknown> }[] }) {
  expect(result.status).toBe(429);
  const retryAfter = Number(result.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(0);
  expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: retryAfter });
  expect(result.data ?? null).toBeNull();
}

describe('the per-user budget', () => {
  it('refuses reads past the budget on every transport and in every process, running nothing; other users are served', async () => {
    const { offerId, userId, userToken } = await issueOffer(service.url);
    for (let i = 0; i < HEAVY_READS_PER_MINUTE; i += 1) {
      const result = await gql(i % 2 ? second.url : service.url, HEAVY_READ, {}, userToken);
      expect(result.errors).toBeUndefined();
    }
    // HTTP, both processes.
    expectRefused(await gql(service.url, HEAVY_READ, {}, userToken));
    expectRefused(await gql(second.url, '{ me { id } }', {}, userToken));
    // A mutation: refused before it runs, nothing accepted.
    expectRefused(await gql(service.url, ACCEPT_OFFER, { offerId }, userToken));
    expect((await prisma.creditOffer.findUniqueOrThrow({ where: { id: offerId } })).status).toBe('PENDING');
    // SSE.
    const [sse] = await collect(sseSubscribe(service.url, 'subscription { notifications { id } }', {}, userToken), 1);
    expect(sse?.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
    // WebSocket: a query and a subscription.
    const socket = socketClient(service.url, userToken);
    try {
      expect(await subscribeOn(socket, '{ me { id } }').outcome).toMatchObject([{ extensions: { code: 'RATE_LIMITED' } }]);
      expect(await subscribeOn(socket, 'subscription { notifications { id } }').outcome).toMatchObject([{ extensions: { code: 'RATE_LIMITED' } }]);
    } finally {
      await socket.dispose();
    }
    // Another user is served.
    const other = newUserId();
    expect((await gql(service.url, HEAVY_READ, {}, await token(other))).data.me.offers).toEqual([]);
    expect(userId).not.toBe(other);
  });

  it('counts a WebSocket pipeline like separate requests', async () => {
    const userToken = await token(newUserId());
    const socket = socketClient(service.url, userToken);
    try {
      const outcomes = await Promise.all(Array.from({ length: HEAVY_READS_PER_MINUTE + 3 }, () => subscribeOn(socket, HEAVY_READ).outcome));
      const refused = outcomes.filter((outcome) => Array.isArray(outcome) && (outcome[0] as { extensions?: { code?: string } }).extensions?.code === 'RATE_LIMITED');
      expect(refused).toHaveLength(3);
    } finally {
      await socket.dispose();
    }
  });
});

/**
 * Redis's MONITOR read from a plain socket (ioredis misreads MONITOR's stream when many commands
 * arrive at once): each command Redis runs, as its arguments, in the order it runs them. Resolves
 * once Redis answered OK: every command sent after that is listed.
 */
async function monitorRedis(onCommand: (args: string[]) => void) {
  const { hostname, port } = new URL(testConfig.REDIS_URL);
  const socket = net.connect(Number(port || 6379), hostname);
  await once(socket, 'connect');
  let buffer = '';
  let ok!: () => void;
  const started = new Promise<void>((resolve) => (ok = resolve));
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (line === '+OK') ok();
      // +<time> [<db> <client>] "command" "arg" ...
      const quoted = line.slice(line.indexOf(']') + 1).match(/"((?:[^"\\]|\\.)*)"/g);
      if (line.startsWith('+') && quoted) onCommand(quoted.map((q) => q.slice(1, -1)));
    }
  });
  socket.write('MONITOR\r\n');
  await started;
  return { close: () => socket.destroy() };
}

describe('on the hot path', () => {
  const client = new Redis(testConfig.REDIS_URL);
  afterAll(() => client.quit());

  it("takes an accept's budget and its mutation limit in one Redis round trip", async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    const limitCalls: string[][] = [];
    const marker = `end-${offerId}`;
    let markerSeen!: () => void;
    const seen = new Promise<void>((resolve) => (markerSeen = resolve));
    const monitor = await monitorRedis((args) => {
      if (args.some((arg) => arg.startsWith(`${testConfig.REDIS_PREFIX}:rate:`))) limitCalls.push(args);
      if (args[1] === marker) markerSeen();
    });
    try {
      const result = await gql(service.url, ACCEPT_OFFER, { offerId }, userToken);
      expect(result.data.acceptOffer.__typename).toBe('AcceptOfferSuccess');
      // MONITOR lists commands in the order Redis runs them: once this one shows, the accept's have.
      await client.echo(marker);
      await seen;
    } finally {
      monitor.close();
    }
    // The script's own commands show up too (get, set, incrby inside it): count the calls from the client.
    const calls = limitCalls.filter(([command]) => /^eval(sha)?$/i.test(command!));
    expect(calls).toHaveLength(1);
    expect(calls[0]!.join(' ')).toContain(`:rate:user-budget:`);
    expect(calls[0]!.join(' ')).toContain(`:rate:user-mutation:acceptOffer:`);
  });
});

describe('me', () => {
  it("answers while another transaction holds the user's row: it only reads once the user exists", async () => {
    const userId = newUserId();
    const userToken = await token(userId, ['customer'], { locale: 'en' });
    expect((await gql(service.url, '{ me { id } }', {}, userToken)).data.me.id).toBe(userId);
    expect((await prisma.user.findUniqueOrThrow({ where: { id: userId } })).locale).toBe('en');
    const holder = new pg.Client({ connectionString: testConfig.DATABASE_URL });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId]);
      // An INSERT ... ON CONFLICT DO UPDATE waits for that lock (and fails at the lock timeout).
      const result = await gql(service.url, '{ me { id } }', {}, userToken);
      expect(result.errors).toBeUndefined();
      expect(result.data.me.id).toBe(userId);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });

  it('creates the user on the first call, and stores a changed language', async () => {
    const userId = newUserId();
    expect((await gql(service.url, '{ me { id } }', {}, await token(userId))).data.me.id).toBe(userId);
    expect(await prisma.user.count({ where: { id: userId } })).toBe(1);
    await gql(service.url, '{ me { id } }', {}, await token(userId, ['customer'], { locale: 'pt-BR' }));
    expect((await prisma.user.findUniqueOrThrow({ where: { id: userId } })).locale).toBe('pt-BR');
  });
});
