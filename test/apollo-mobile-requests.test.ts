// The requests Apollo Kotlin and Apollo iOS send, byte for byte (test/fixtures/apollo/requests.json),
// replayed against an API with production settings (customers send persisted operations only):
// hashed GETs with Apollo's preflight and identification headers pass the CSRF rule, POSTs carry
// extra extensions, and the WebSocket takes their subscribe messages, which have no `query`.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CONTRACT_LIMITS } from '../src/api/document-limits.ts';
import { registerManifest } from '../src/api/register-operations.ts';
import { closeRedis, createRedis } from '../src/platform/redis.ts';
import { gqlPersisted, newUserId, token } from './support/client.ts';
import { issueOffer } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig, testRedis } from './support/settings.ts';
import firstParty from '../src/generated/graphql/persisted-documents.json' with { type: 'json' };

const service = serviceForTests({ config: { ...testConfig, GRAPHQL_ALLOW_DOCUMENTS: false, GRAPHQL_EXPOSE_SCHEMA: false, GRAPHIQL: false } });

const read = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/apollo/${name}`, import.meta.url), 'utf8'));
const manifest = read('kotlin-manifest.json') as { operations: Array<{ id: string; name: string }> };
const fixtures = read('requests.json') as Record<string, any>;

interface Values {
  token: string;
  offerId?: string;
  deploymentId?: string;
}

/** A fixture's text with the test's values in place of its {{placeholders}}. */
function fill(text: string, values: Values): string {
  return text.replace(/\{\{(hash:)?(\w+)\}\}/g, (_, hash: string | undefined, name: string) => {
    if (hash) return manifest.operations.find((operation) => operation.name === name)!.id;
    return (values as unknown as Record<string, string>)[name]!;
  });
}

/** Replays an HTTP fixture; the JSON result (from a multipart answer too: Apollo accepts both). */
async function replay(name: string, values: Values) {
  const fixture = fixtures[name];
  const headers = Object.fromEntries(Object.entries(fixture.headers as Record<string, string>).map(([key, value]) => [key, fill(value, values)]));
  const response = await fetch(`${service.url}${fill(fixture.path, values)}`, {
    method: fixture.method,
    headers,
    ...(fixture.body ? { body: fill(fixture.body, values) } : {}),
  });
  const text = await response.text();
  const json = text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1);
  return { status: response.status, contentType: response.headers.get('content-type'), body: JSON.parse(json) };
}

/** Replays a WebSocket fixture; resolves with the subscription's messages until it completes. */
function replaySocket(name: string, values: Values): Promise<unknown[]> {
  const fixture = fixtures[name];
  const socket = new WebSocket(`${service.url.replace(/^http/, 'ws')}/graphql`, fixture.protocol, { headers: fixture.headers });
  const received: unknown[] = [];
  return new Promise((resolve, reject) => {
    socket.once('open', () => socket.send(fill(fixture.messages[0], values)));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (message.type === 'connection_ack') return socket.send(fill(fixture.messages[1], values));
      if (message.type === 'next') return received.push(message.payload);
      if (message.type === 'error') received.push({ errors: message.payload });
      socket.close();
      resolve(received);
    });
    socket.once('close', (code) => (code === 1000 || code === 1005 ? resolve(received) : reject(new Error(`socket closed ${code}`))));
    socket.once('error', reject);
  });
}

const acceptHash = Object.entries(firstParty).find(([, document]) => document.includes('mutation AppAcceptOffer'))![0].replace('sha256:', '');

beforeAll(async () => {
  const publisher = createRedis('publisher', testRedis);
  const settings = { limits: { ...CONTRACT_LIMITS, exposeSchema: false }, redis: publisher, prefix: testConfig.REDIS_PREFIX };
  await registerManifest(settings, { client: 'mobile-android', version: '3.1.0' }, manifest);
  await registerManifest(settings, { client: 'com.example.credit-apollo-ios', version: '5.2.0-812' }, manifest);
  await closeRedis(publisher);
});

describe('Apollo Kotlin, as sent', () => {
  it('runs a hashed GET query, with Apollo-Require-Preflight or with the X-APOLLO-OPERATION headers', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    for (const name of ['kotlinGetQuery', 'kotlin3GetQuery']) {
      const result = await replay(name, { token: userToken, offerId });
      expect(result.status).toBe(200);
      expect(result.body).toMatchObject({ data: { creditOffer: { __typename: 'CreditOffer', id: offerId, status: 'PENDING' } } });
    }
  });

  it('runs a hashed POST mutation carrying its clientLibrary extension', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    const result = await replay('kotlinPostMutation', { token: userToken, offerId });
    expect(result.body.errors).toBeUndefined();
    expect(result.body.data.declineOffer).toMatchObject({ __typename: 'DeclineOfferSuccess', offer: { status: 'DECLINED' } });
  });

  it("streams a subscription from graphql-ws subscribe messages with no query, only the hash", async () => {
    for (const name of ['kotlinWebSocket', 'iosWebSocket']) {
      const { offerId, userToken } = await issueOffer(service.url);
      const accepted = await gqlPersisted(service.url, acceptHash, { offerId }, userToken);
      const deploymentId = accepted.data.acceptOffer.deployment.id;
      const messages = (await replaySocket(name, { token: userToken, deploymentId })) as Array<{ data?: any; errors?: unknown }>;
      expect(messages[0]).toEqual({ data: { creditDeployment: { __typename: 'CreditDeploymentUpdate', sequence: 1, status: 'QUEUED' } } });
      expect(messages.at(-1)?.data.creditDeployment.status).toBe('DEPLOYED');
    }
  });
});

describe('Apollo iOS, as sent', () => {
  it('runs a persisted-only POST query with its identification headers', async () => {
    const userId = newUserId();
    const result = await replay('iosPostQuery', { token: await token(userId) });
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ data: { me: { __typename: 'User', id: userId, creditProfile: null } } });
  });

  it('gets PersistedQueryNotFound for a hash never registered, on HTTP and on the WebSocket', async () => {
    const userToken = await token(newUserId());
    const unknown = { operations: [{ id: 'f'.repeat(64), name: 'MobileProfile' }] };
    const saved = manifest.operations;
    manifest.operations = [...unknown.operations, ...saved.filter((operation) => operation.name !== 'MobileProfile' && operation.name !== 'MobileDeployment'), { id: 'e'.repeat(64), name: 'MobileDeployment' }];
    try {
      const http = await replay('iosPostQuery', { token: userToken });
      expect(http.body.errors[0]).toMatchObject({ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });
      const socket = await replaySocket('iosWebSocket', { token: userToken, deploymentId: '00000000-0000-4000-8000-000000000000' });
      expect(socket).toEqual([{ errors: [expect.objectContaining({ message: 'PersistedQueryNotFound' })] }]);
    } finally {
      manifest.operations = saved;
    }
  });
});
