// Token claims that would stretch or loosen a token: an `iat` in the future (a 30-day token would
// pass a cap on exp - iat), a lifetime left over the cap, a JWKS fetched over plain http, HS256
// tokens without issuer or audience where the setting requires them. Each refused over HTTP, with
// nothing created, and the honest token served.
import { SignJWT, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/platform/config.ts';
import { prisma } from '../src/platform/db.ts';
import { gql, newUserId } from './support/client.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig } from './support/settings.ts';

const ISSUER = 'https://id.example.com';
const AUDIENCE = 'credit-api';
const service = serviceForTests({ worker: false });
const strict = serviceForTests({
  worker: false,
  config: { ...testConfig, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWT_REQUIRE_ISSUER_AUDIENCE: true },
});
const secret = new TextEncoder().encode(testConfig.JWT_SECRET);
const now = () => Math.floor(Date.now() / 1000);
const hs256 = (claims: JWTPayload) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(secret);
const ME = '{ me { id } }';

async function refused(url: string, claims: JWTPayload) {
  const result = await gql(url, ME, {}, await hs256(claims));
  expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(await prisma.user.count({ where: { id: claims.sub! } })).toBe(0);
}

describe('lifetime', () => {
  it('refuses a token whose iat lies in the future: 30 days of validity with exp - iat of an hour', async () => {
    const userId = newUserId();
    await refused(service.url, { sub: userId, iat: now() + 30 * 86_400 - 3600, exp: now() + 30 * 86_400 });
    // A token issued a second ahead (clock skew within the tolerance) is fine.
    const skewed = await gql(service.url, ME, {}, await hs256({ sub: userId, iat: now() + 1, exp: now() + 3000 }));
    expect(skewed.data.me.id).toBe(userId);
  });

  it('refuses a token with more than the lifetime left, even without iat', async () => {
    await refused(service.url, { sub: newUserId(), exp: now() + 2 * 3600 });
  });
});

describe('issuer and audience for HS256', () => {
  it('are required where JWT_REQUIRE_ISSUER_AUDIENCE is on, and honoured when present', async () => {
    const base = { iat: now(), exp: now() + 600 };
    await refused(strict.url, { ...base, sub: newUserId() });
    await refused(strict.url, { ...base, sub: newUserId(), iss: ISSUER });
    await refused(strict.url, { ...base, sub: newUserId(), iss: 'https://elsewhere.example.com', aud: AUDIENCE });
    const userId = newUserId();
    expect((await gql(strict.url, ME, {}, await hs256({ ...base, sub: userId, iss: ISSUER, aud: AUDIENCE }))).data.me.id).toBe(userId);
    // Without the setting (and no issuer configured) a plain token is served.
    const plain = newUserId();
    expect((await gql(service.url, ME, {}, await hs256({ ...base, sub: plain }))).data.me.id).toBe(plain);
  });

  it('the setting without JWT_ISSUER and JWT_AUDIENCE stops the start', () => {
    expect(() => parseConfig({ ...process.env, JWT_REQUIRE_ISSUER_AUDIENCE: 'true' })).toThrow(/JWT_REQUIRE_ISSUER_AUDIENCE/);
  });
});

describe('JWKS', () => {
  it('is fetched over https only (http to loopback allowed, for tests)', () => {
    const base = { ...process.env, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE };
    expect(() => parseConfig({ ...base, JWT_JWKS_URL: 'http://id.example.com/.well-known/jwks.json' })).toThrow(/JWT_JWKS_URL/);
    expect(parseConfig({ ...base, JWT_JWKS_URL: 'https://id.example.com/.well-known/jwks.json' }).JWT_JWKS_URL).toMatch(/^https:/);
    expect(parseConfig({ ...base, JWT_JWKS_URL: 'http://127.0.0.1:9000/jwks.json' }).JWT_JWKS_URL).toMatch(/^http:/);
  });
});
