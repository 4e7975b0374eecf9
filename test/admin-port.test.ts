// The admin port's doors: /metrics needs the scrape token when one is set; the browser sign-in
// reads a small body, needs its CSRF token, and leaves an opaque session id in the cookie (not
// the token), mapped in Redis until the token expires; `Secure` and `__Host-` over TLS.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/platform/config.ts';
import { token } from './support/client.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig } from './support/settings.ts';

const SCRAPE_TOKEN = 'scrape-token-for-this-test-0123456789abcdef';
const service = serviceForTests({ worker: false, config: { ...testConfig, METRICS_SCRAPE_TOKEN: SCRAPE_TOKEN } });
const redis = new Redis(testConfig.REDIS_URL);
afterAll(() => redis.quit());

/** The sign-in form's CSRF token and its cookie, as a browser gets them. */
async function loginForm(headers: Record<string, string> = {}) {
  const page = await fetch(`${service.adminUrl}/login`, { headers });
  const csrf = /name="csrf" value="([0-9a-f]{64})"/.exec(await page.text())![1]!;
  const cookie = page.headers.getSetCookie().find((c) => c.startsWith('admin_csrf='))!.split(';')[0]!;
  return { csrf, cookie };
}

const signIn = (body: URLSearchParams, cookie: string, headers: Record<string, string> = {}) =>
  fetch(`${service.adminUrl}/login`, { method: 'POST', body, headers: { cookie, ...headers }, redirect: 'manual' });

describe('/metrics', () => {
  it('needs the scrape token when one is set', async () => {
    expect((await fetch(`${service.adminUrl}/metrics`)).status).toBe(401);
    expect((await fetch(`${service.adminUrl}/metrics`, { headers: { authorization: 'Bearer wrong-token' } })).status).toBe(401);
    const scraped = await fetch(`${service.adminUrl}/metrics`, { headers: { authorization: `Bearer ${SCRAPE_TOKEN}` } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('process_cpu');
  });

  it('is never open beyond loopback in production: a scrape token is required there', () => {
    const production = { NODE_ENV: 'production', JWT_SECRET: 'j'.repeat(64), CONSENT_HMAC_KEY: 'c'.repeat(64) };
    expect(parseConfig(production).ADMIN_HOST).toBe('127.0.0.1');
    expect(() => parseConfig({ ...production, ADMIN_HOST: '0.0.0.0' })).toThrow(/METRICS_SCRAPE_TOKEN/);
    expect(parseConfig({ ...production, ADMIN_HOST: '0.0.0.0', METRICS_SCRAPE_TOKEN: 's'.repeat(64) }).METRICS_SCRAPE_TOKEN).toBe('s'.repeat(64));
  });
});

describe('the browser sign-in', () => {
  it('refuses a post without the form\'s CSRF token, signing nobody in', async () => {
    const { cookie } = await loginForm();
    const refused = await signIn(new URLSearchParams({ token: await token('alice.ops', ['ops']) }), cookie);
    expect(refused.status).toBe(403);
    expect(refused.headers.getSetCookie().some((c) => c.includes('admin_session'))).toBe(false);
    const forged = await signIn(new URLSearchParams({ token: await token('alice.ops', ['ops']), csrf: 'f'.repeat(64) }), cookie);
    expect(forged.status).toBe(403);
  });

  it('refuses a body over 8 KiB without reading it', async () => {
    const { csrf, cookie } = await loginForm();
    const refused = await signIn(new URLSearchParams({ csrf, token: 'x'.repeat(20_000) }), cookie);
    expect(refused.status).toBe(413);
  });

  it('keeps an opaque session id in the cookie, mapped in Redis until the token expires', async () => {
    const jwt = await token('alice.ops', ['ops']);
    const { csrf, cookie } = await loginForm();
    const signedIn = await signIn(new URLSearchParams({ csrf, token: jwt }), cookie);
    expect(signedIn.status).toBe(302);
    const session = signedIn.headers.getSetCookie().find((c) => c.startsWith('admin_session='))!;
    expect(session).toMatch(/HttpOnly/i);
    expect(session).toMatch(/SameSite=Strict/i);
    const id = session.split(';')[0]!.split('=')[1]!;
    expect(id).not.toContain(jwt.split('.')[2]!);
    expect(id).toMatch(/^[\w-]{43}$/);
    // The session opens the board; its Redis entry ends with the token (an hour at most).
    expect((await fetch(`${service.adminUrl}/board/api/queues`, { headers: { cookie: `admin_session=${id}` } })).status).toBe(200);
    const keys = await redis.keys(`${testConfig.REDIS_PREFIX}:admin-session:*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
    }
    // The raw token in that cookie (what it used to hold) opens nothing.
    expect((await fetch(`${service.adminUrl}/board/api/queues`, { headers: { cookie: `admin_session=${jwt}` } })).status).toBe(401);
  });

  it('sets a __Host- cookie with Secure over TLS (as a proxy in front says)', async () => {
    const tls = { 'x-forwarded-proto': 'https' };
    const { csrf, cookie } = await loginForm(tls);
    const signedIn = await signIn(new URLSearchParams({ csrf, token: await token('alice.ops', ['ops']) }), cookie, tls);
    const session = signedIn.headers.getSetCookie().find((c) => c.startsWith('__Host-admin_session='))!;
    expect(session).toMatch(/; Secure/i);
    expect(session).toMatch(/Path=\//);
  });

  it("refuses a customer's token at sign-in", async () => {
    const { csrf, cookie } = await loginForm();
    expect((await signIn(new URLSearchParams({ csrf, token: await token('bob', ['customer']) }), cookie)).status).toBe(403);
  });
});
