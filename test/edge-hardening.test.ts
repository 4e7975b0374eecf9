// Smaller holes of the edge, each played against the real service: a burst of Subscribe messages
// on one socket, IPv6 clients hopping addresses inside their /64, X-Forwarded-For reaching a
// service that trusts no proxy, a flood of /ready, and client addresses in the logs.
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { cachedCheck } from '../src/api/ready-check.ts';
import { createLogger } from '../src/platform/logger.ts';
import { scrape } from '../src/platform/metrics.ts';
import { gql, newUserId, token } from './support/client.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig } from './support/settings.ts';
import { startThrowawayRedis, type ThrowawayRedis } from './support/throwaway-redis.ts';

const written: string[] = [];
const sink = new Writable({
  write(chunk, _encoding, done) {
    written.push(String(chunk));
    done();
  },
});
const ANONYMOUS_PER_MINUTE = 3;
const direct = serviceForTests({ worker: false, config: { ...testConfig, RATE_LIMIT_ANONYMOUS_PER_MINUTE: ANONYMOUS_PER_MINUTE }, logger: createLogger('info', sink) });
const proxied = serviceForTests({ worker: false, config: { ...testConfig, TRUSTED_PROXIES: 1, RATE_LIMIT_ANONYMOUS_PER_MINUTE: ANONYMOUS_PER_MINUTE }, logger: createLogger('info', sink) });

let readyRedis: ThrowawayRedis | null = null;
let readyRedisClient: Redis | null = null;
beforeAll(async () => {
  readyRedis = await startThrowawayRedis();
  readyRedisClient = new Redis(readyRedis.url);
});
afterAll(async () => {
  await readyRedisClient?.quit();
  await readyRedis?.destroy();
});
const isolated = serviceForTests(() => ({ worker: false, config: { ...testConfig, REDIS_URL: readyRedis!.url } }));

const anonymous = (url: string, forwardedFor?: string) => gql(url, '{ me { id } }', {}, undefined, forwardedFor ? { 'x-forwarded-for': forwardedFor } : {});

describe('the per-socket subscription cap', () => {
  it('holds against a burst of Subscribe messages sent before any is answered', async () => {
    const socket = new WebSocket(`${direct.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const messages: { id?: string; type: string; payload?: unknown }[] = [];
    const refusals = new Promise<void>((resolve) =>
      socket.on('message', (data) => {
        messages.push(JSON.parse(String(data)));
        if (messages.filter((m) => m.type === 'error').length === 5) resolve();
      }),
    );
    await new Promise((resolve) => socket.once('open', resolve));
    const acked = new Promise((resolve) => socket.once('message', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${await token(newUserId())}` } }));
    await acked;
    // 25 in one go, the default cap being 20 per socket (50 per user).
    for (let i = 0; i < 25; i += 1) socket.send(JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: 'subscription { notifications { id } }' } }));
    await refusals;
    // One more operation, answered once everything before it was read: still 5 refusals only.
    const answered = new Promise<void>((resolve) => socket.on('message', (data) => JSON.parse(String(data)).id === 'q' && resolve()));
    socket.send(JSON.stringify({ id: 'q', type: 'subscribe', payload: { query: '{ me { id } }' } }));
    await answered;
    const errors = messages.filter((m) => m.type === 'error');
    expect(errors).toHaveLength(5);
    expect(errors.every((m) => JSON.stringify(m.payload).includes('TOO_MANY_SUBSCRIPTIONS'))).toBe(true);
    socket.close();
  });
});

describe('per-address limits', () => {
  it('key an IPv6 client by its /64: hopping addresses inside it gives no fresh budget', async () => {
    const network = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:7`;
    for (let i = 1; i <= ANONYMOUS_PER_MINUTE; i += 1) {
      expect((await anonymous(proxied.url, `${network}::${i}`)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
    const hopped = await anonymous(proxied.url, `${network}:dead:beef:1:2`);
    expect(hopped.status).toBe(429);
    expect(hopped.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    // Another /64 has its own budget.
    expect((await anonymous(proxied.url, `${network.replace(/:7$/, ':8')}::1`)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('log a refused client by its network (/24, /48), never by its address', async () => {
    const address = `198.51.100.${10 + Math.floor(Math.random() * 200)}`;
    for (let i = 0; i <= ANONYMOUS_PER_MINUTE; i += 1) await anonymous(proxied.url, address);
    const v6 = `2001:db8:abcd:${Math.floor(Math.random() * 0xffff).toString(16)}::42`;
    for (let i = 0; i <= ANONYMOUS_PER_MINUTE; i += 1) await anonymous(proxied.url, v6);
    const lines = written.join('').split('\n').filter((line) => line.includes('"rate limited"'));
    expect(lines.some((line) => line.includes('198.51.100.0/24'))).toBe(true);
    expect(lines.some((line) => line.includes('2001:db8:abcd::/48'))).toBe(true);
    expect(written.join('')).not.toContain(address);
    expect(written.join('')).not.toContain(v6.replace(/::42$/, ''));
  });

  it('warn once, and count, when X-Forwarded-For arrives while no proxy is trusted', async () => {
    const metric = async () => Number(/^credit_forwarded_for_ignored_total (\d+)/m.exec((await scrape()).body)?.[1] ?? 0);
    const before = await metric();
    await gql(direct.url, '{ me { id } }', {}, await token(newUserId()), { 'x-forwarded-for': '203.0.113.9' });
    await gql(direct.url, '{ me { id } }', {}, await token(newUserId()), { 'x-forwarded-for': '203.0.113.9' });
    expect(await metric()).toBe(before + 2);
    expect(written.join('').split('\n').filter((line) => line.includes('X-Forwarded-For arrives while TRUSTED_PROXIES=0'))).toHaveLength(1);
  });
});

describe('/ready', () => {
  it('asks Redis at most once a second, however many callers flood it', async () => {
    // The service of this test has a Redis of its own: its PING count is this service's alone.
    const pings = async () => Number(/cmdstat_ping:calls=(\d+)/.exec(await readyRedisClient!.info('commandstats'))?.[1] ?? 0);
    const before = await pings();
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 50 }, () => fetch(`${isolated.url}/ready`).then((r) => r.status)));
    const seconds = Math.ceil((Date.now() - started) / 1000);
    expect(answers.every((status) => status === 200)).toBe(true);
    const asked = (await pings()) - before;
    expect(asked).toBeGreaterThan(0);
    expect(asked).toBeLessThanOrEqual(seconds + 1);
  });

  it('shares one check among callers within its second, and asks again after it', async () => {
    let clock = 0;
    let calls = 0;
    const check = cachedCheck(async () => ++calls > 0, 1000, () => clock);
    await Promise.all([check(), check(), check()]);
    clock = 999;
    await check();
    expect(calls).toBe(1);
    clock = 1000;
    await check();
    expect(calls).toBe(2);
  });
});
