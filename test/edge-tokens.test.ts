// Tokens, as an attacker would try them: no expiry, a lifetime of years, a JWKS token without
// issuer or audience or with another algorithm, control characters in `sub`; and streams that
// must end with their token (SSE: an UNAUTHENTICATED error; WebSocket: close 4403, then a
// client with a fresh token resumes its deployment stream with no gap and no duplicate).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'graphql-ws';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createAuthenticator } from '../src/api/auth.ts';
import { prisma } from '../src/platform/db.ts';
import type { RunningService } from '../src/service.ts';
import { gql, newUserId, sseSubscribe, token } from './support/client.ts';
import { acceptOffer, issueOffer } from './support/fixtures.ts';
import { serviceForTests, startServiceInTest } from './support/service.ts';
import { testConfig } from './support/settings.ts';

// The API alone: the test starts the worker when it wants the deployment to move.
const service = serviceForTests({ worker: false });
const secret = new TextEncoder().encode(testConfig.JWT_SECRET);
const now = () => Math.floor(Date.now() / 1000);

const hs256 = (claims: JWTPayload) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(secret);
const ME = '{ me { id } }';

async function refusedAndNothingCreated(jwt: string, userId: string) {
  const result = await gql(service.url, ME, {}, jwt);
  expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(await prisma.user.count({ where: { id: userId } })).toBe(0);
  const honest = await gql(service.url, ME, {}, await token(userId));
  expect(honest.data.me.id).toBe(userId);
}

describe('token rules', () => {
  it('refuses a token without exp', async () => {
    const userId = newUserId();
    await refusedAndNothingCreated(await hs256({ sub: userId, iat: now() }), userId);
  });

  it('refuses a token that lives longer than the configured lifetime (1 h)', async () => {
    const userId = newUserId();
    await refusedAndNothingCreated(await hs256({ sub: userId, iat: now(), exp: now() + 3600 * 24 * 365 }), userId);
  });

  it('refuses a token without iat that still lives longer than the lifetime', async () => {
    const userId = newUserId();
    await refusedAndNothingCreated(await hs256({ sub: userId, exp: now() + 7200 }), userId);
  });

  it('refuses a sub with control characters (it names nobody)', async () => {
    const userId = `${newUserId()}\u0000`;
    const result = await gql(service.url, ME, {}, await hs256({ sub: userId, iat: now(), exp: now() + 60 }));
    expect(result.status).toBe(200);
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('accepts a token within the clock tolerance, refuses one past it', async () => {
    const userId = newUserId();
    const barely = await hs256({ sub: userId, iat: now() - 60, exp: now() - 2 });
    expect((await gql(service.url, ME, {}, barely)).data?.me.id).toBe(userId);
    const late = await hs256({ sub: userId, iat: now() - 60, exp: now() - 10 });
    expect((await gql(service.url, ME, {}, late)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('tokens from a JWKS', () => {
  let jwksServer: Server;
  let authenticate: ReturnType<typeof createAuthenticator>;
  const keys = {} as Record<'rs' | 'es', CryptoKeyPair>;
  const issuer = 'https://id.example.test/';
  const audience = 'credit-app';

  beforeAll(async () => {
    keys.rs = await generateKeyPair('RS256');
    keys.es = await generateKeyPair('ES256');
    const jwks = {
      keys: [
        { ...(await exportJWK(keys.rs.publicKey)), kid: 'rs', alg: 'RS256', use: 'sig' },
        { ...(await exportJWK(keys.es.publicKey)), kid: 'es', alg: 'ES256', use: 'sig' },
      ],
    };
    jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)));
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    authenticate = createAuthenticator({ jwtSecret: testConfig.JWT_SECRET, jwksUrl, issuer, audience, maxLifetimeSeconds: 3600, clockToleranceSeconds: 5 });
  });
  afterAll(() => new Promise<void>((resolve) => jwksServer.close(() => resolve())));

  const sign = (kid: 'rs' | 'es', claims: JWTPayload) =>
    new SignJWT({ iat: now(), exp: now() + 600, ...claims })
      .setProtectedHeader({ alg: kid === 'rs' ? 'RS256' : 'ES256', kid })
      .sign(keys[kid].privateKey);

  it('accepts RS256 and ES256 tokens with the issuer and audience', async () => {
    for (const kid of ['rs', 'es'] as const) {
      const result = await authenticate(`Bearer ${await sign(kid, { sub: 'alice', iss: issuer, aud: audience })}`);
      expect(result.viewer?.userId).toBe('alice');
    }
  });

  it.each([
    ['without an issuer', { sub: 'alice', aud: audience }],
    ['without an audience', { sub: 'alice', iss: issuer }],
    ['from another issuer', { sub: 'alice', iss: 'https://evil.test/', aud: audience }],
    ['for another audience', { sub: 'alice', iss: issuer, aud: 'other-app' }],
  ])('refuses a token %s', async (_case, claims) => {
    expect((await authenticate(`Bearer ${await sign('rs', claims)}`)).viewer).toBeNull();
  });

  it('refuses an HS256 token (the algorithms are pinned), even signed with the shared secret', async () => {
    const jwt = await hs256({ sub: 'alice', iss: issuer, aud: audience, iat: now(), exp: now() + 60 });
    expect((await authenticate(`Bearer ${jwt}`)).viewer).toBeNull();
  });
});

describe('streams follow their token', () => {
  it('ends an SSE stream with UNAUTHENTICATED at the token expiry', async () => {
    const userId = newUserId();
    const exp = now() + 2;
    const jwt = await hs256({ sub: userId, iat: now(), exp });
    const stream = sseSubscribe(service.url, 'subscription { notifications { id title body } }', {}, jwt);
    const first = await stream.next();
    expect(first.value?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(Date.now()).toBeLessThanOrEqual(exp * 1000 + 1000);
    expect((await stream.next()).done).toBe(true);
  });

  it('closes a WebSocket with 4403 at expiry; a client with a fresh token resumes its deployment stream with no gap and no duplicate', async () => {
    const { offerId, userId } = await issueOffer(service.url);
    const deploymentId = (await acceptOffer(service.url, offerId, await token(userId))).deployment.id;
    const exp = now() + 3;
    const expiring = await hs256({ sub: userId, iat: now(), exp });
    const closes: { code: number; at: number }[] = [];
    let worker: Promise<RunningService> | null = null;
    const client = createClient({
      url: `${service.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      // What an app does: each (re)connection asks for a token, fresh once the old one expired.
      connectionParams: async () => ({ authorization: `Bearer ${closes.length === 0 ? expiring : await token(userId)}` }),
      retryAttempts: 3,
      retryWait: () => Promise.resolve(),
      on: {
        closed: (event) => {
          closes.push({ code: (event as { code: number }).code, at: Date.now() });
          // The deployment moves on while the app is away.
          if (!worker) worker = startServiceInTest({ api: false, config: testConfig });
        },
      },
    });
    // The variables object is resent on every reconnection: the app keeps afterSequence current.
    const variables = { id: deploymentId, afterSequence: 0 };
    const sequences: number[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        client.subscribe(
          { query: 'subscription ($id: ID!, $afterSequence: Int) { creditDeployment(id: $id, afterSequence: $afterSequence) { sequence status } }', variables },
          {
            next: ({ data, errors }) => {
              if (errors) return reject(new Error(JSON.stringify(errors)));
              const update = (data as { creditDeployment: { sequence: number; status: string } }).creditDeployment;
              sequences.push(update.sequence);
              variables.afterSequence = update.sequence;
            },
            error: reject,
            complete: resolve,
          },
        );
      });
    } finally {
      await client.dispose();
    }
    expect(closes[0]?.code).toBe(4403);
    expect(closes[0]!.at).toBeLessThanOrEqual(exp * 1000 + 5000 + 1000);
    expect(sequences).toEqual(Array.from({ length: sequences.length }, (_, i) => i + 1));
    expect(sequences.length).toBeGreaterThanOrEqual(4); // QUEUED ... DEPLOYED
  });

  it('closes a WebSocket whose connection_init has no valid token with 4403, without an ack', async () => {
    for (const params of [{}, { authorization: 'Bearer not.a.jwt' }]) {
      const socket = new WebSocket(`${service.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
      const messages: string[] = [];
      socket.on('message', (data) => messages.push(String(data)));
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init', payload: params }));
      const [code] = await new Promise<[number]>((resolve) => socket.once('close', (c) => resolve([c])));
      expect(code).toBe(4403);
      expect(messages).toEqual([]);
    }
  });
});
