// The registry of persisted operations as a mobile team meets it: their CI registers the manifest
// Apollo Kotlin wrote (npm run operations:register), and the app's requests, which carry hashes
// only, are served on every transport of a production-configured API, in this process and in a
// second one that was running already. A bad manifest changes nothing; usage shows which version
// still uses what, and retiring a version removes what only it used.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createClient } from 'graphql-ws';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { registerManifest } from '../src/api/register-operations.ts';
import { CONTRACT_LIMITS } from '../src/api/document-limits.ts';
import { prisma } from '../src/platform/db.ts';
import { closeRedis, createRedis } from '../src/platform/redis.ts';
import { startService } from '../src/service.ts';
import { newUserId, token } from './support/client.ts';
import { issueOffer } from './support/fixtures.ts';
import firstParty from '../src/generated/graphql/persisted-documents.json' with { type: 'json' };
import { scrapeMetrics } from './support/metrics.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig, testRedis } from './support/settings.ts';

const production = { ...testConfig, GRAPHQL_ALLOW_DOCUMENTS: false, GRAPHQL_EXPOSE_SCHEMA: false, GRAPHIQL: false, OPERATIONS_USAGE_FLUSH_MS: 100 };
const service = serviceForTests({ config: production });

const MANIFEST = 'test/fixtures/apollo/kotlin-manifest.json';
const manifest = JSON.parse(readFileSync(new URL(`./fixtures/apollo/kotlin-manifest.json`, import.meta.url), 'utf8')) as {
  operations: Array<{ id: string; name: string; body: string }>;
};
const hashOf = (name: string) => manifest.operations.find((operation) => operation.name === name)!.id;
const firstPartyHash = (name: string) =>
  Object.entries(firstParty).find(([, document]) => document.includes(` ${name}(`) || document.includes(` ${name} `))![0].replace('sha256:', '');
const ANDROID = { 'apollographql-client-name': 'mobile-android', 'apollographql-client-version': '3.1.0' };

/** Runs an operations:* command as CI would, with this file's database and Redis prefix. */
function command(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `scripts/operations-${script}.ts`, ...args], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const persistedQuery = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });

async function post(url: string, body: object, userToken: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${userToken}`, ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, ...((await response.json()) as { data?: any; errors?: Array<{ message: string; extensions?: { code?: string } }> }) };
}

async function get(url: string, params: Record<string, unknown>, userToken: string, headers: Record<string, string> = {}) {
  const query = new URLSearchParams(Object.entries(params).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]));
  const response = await fetch(`${url}/graphql?${query}`, { headers: { accept: 'application/json', authorization: `Bearer ${userToken}`, ...headers } });
  return { status: response.status, ...((await response.json()) as { data?: any; errors?: Array<{ message: string; extensions?: { code?: string } }> }) };
}

describe('registering a manifest', () => {
  // These spawn the operations:* commands, which take a while to start on a loaded machine.
  it("refuses an Apollo manifest with one operation the schema does not have, naming it, and stores nothing", { timeout: 120_000 }, async () => {
    const bad = structuredClone(manifest);
    const body = 'query MobileBroken {\n  me {\n    id\n    nickname\n  }\n}';
    bad.operations.push({ id: createHash('sha256').update(body).digest('hex'), name: 'MobileBroken', body, type: 'query' } as never);
    const file = `${process.env.TMPDIR ?? '/tmp'}/bad-manifest-${process.pid}.json`;
    writeFileSync(file, JSON.stringify(bad));
    const before = await prisma.persistedOperation.count();

    const result = await command('register', ['--client', 'mobile-android', '--version', '3.0.0', file]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/MobileBroken: Cannot query field "nickname" on type "User"/);
    expect(result.stderr).not.toMatch(/MobileProfile:/);
    expect(await prisma.persistedOperation.count()).toBe(before);
    const response = await post(service.url, { extensions: persistedQuery(hashOf('MobileProfile')) }, await token(newUserId()));
    expect(response.errors?.[0]).toMatchObject({ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });
  });

  it('refuses an operation over the document limits, and an id that is not the sha256 of its body', () => {
    const deep = `query MobileDeep { me { ${'offers { user { '.repeat(6)}id${' } }'.repeat(6)} } }`;
    const deepManifest = { format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id: createHash('sha256').update(deep).digest('hex'), body: deep, name: 'MobileDeep', type: 'query' }] };
    const settings = { limits: { ...CONTRACT_LIMITS, exposeSchema: false }, redis: null as never, prefix: testConfig.REDIS_PREFIX };
    return Promise.all([
      expect(registerManifest(settings, { client: 'mobile-android', version: '3.0.0' }, deepManifest)).rejects.toThrow(/MobileDeep: .*depth limit of 10 exceeded/),
      expect(registerManifest(settings, { client: 'mobile-android', version: '3.0.0' }, { 'sha256:0000': 'query X { me { id } }' })).rejects.toThrow(/is not the sha256 of its document/),
    ]);
  });
});

describe("an Apollo Kotlin app's operations, registered by its CI", () => {
  it('are served by hash once `npm run operations:register` stored them: POST, GET, documentId', { timeout: 120_000 }, async () => {
    const userToken = await token(newUserId());
    const before = await post(service.url, { extensions: persistedQuery(hashOf('MobileProfile')) }, userToken);
    expect(before.errors?.[0]?.message).toBe('PersistedQueryNotFound');

    const result = await command('register', ['--client', 'mobile-android', '--version', '3.1.0', MANIFEST]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/mobile-android 3\.1\.0: 5 operations registered \(5 new/);
    expect(result.code).toBe(0);

    const byPost = await post(service.url, { operationName: 'MobileProfile', variables: {}, extensions: persistedQuery(hashOf('MobileProfile')) }, userToken, ANDROID);
    expect(byPost.errors).toBeUndefined();
    expect(byPost.data.me).toMatchObject({ __typename: 'User', creditProfile: null });

    const { offerId, userToken: owner } = await issueOffer(service.url);
    const byGet = await get(service.url, { operationName: 'MobileOffer', variables: { id: offerId }, extensions: persistedQuery(hashOf('MobileOffer')) }, owner, ANDROID);
    expect(byGet).toMatchObject({ status: 200, data: { creditOffer: { id: offerId, status: 'PENDING' } } });

    const byDocumentId = await post(service.url, { documentId: hashOf('MobileOffer'), variables: { id: offerId } }, owner);
    expect(byDocumentId.data.creditOffer.id).toBe(offerId);
    const byDocumentIdGet = await get(service.url, { documentId: hashOf('MobileOffer'), variables: { id: offerId } }, owner, ANDROID);
    expect(byDocumentIdGet.errors).toBeUndefined();
    expect(byDocumentIdGet.data.creditOffer.id).toBe(offerId);

    // A mutation is never run by GET, persisted or not.
    const mutationByGet = await get(service.url, { variables: { offerId }, extensions: persistedQuery(hashOf('MobileDeclineOffer')) }, owner, ANDROID);
    expect(mutationByGet.status).toBe(405);
    const declined = await post(service.url, { variables: { offerId }, extensions: persistedQuery(hashOf('MobileDeclineOffer')) }, owner, ANDROID);
    expect(declined.data.declineOffer).toMatchObject({ __typename: 'DeclineOfferSuccess', offer: { status: 'DECLINED' } });
  });

  it('streams a registered subscription over graphql-ws by hash, and refuses an unknown hash there', async () => {
    const { offerId, userToken } = await issueOffer(service.url);
    const client = createClient({
      url: `${service.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${userToken}` },
      retryAttempts: 0,
    });
    try {
      const unknown = client.iterate({ query: '', extensions: persistedQuery('a'.repeat(64)) } as never);
      await expect(unknown.next()).rejects.toMatchObject([{ message: 'PersistedQueryNotFound' }]);

      // Apollo's subscribe payload: no query, the hash in extensions.persistedQuery.
      const accepted = (await post(service.url, { variables: { offerId }, extensions: persistedQuery(firstPartyHash('AppAcceptOffer')) }, userToken)).data.acceptOffer;
      const payload = { operationName: 'MobileDeployment', query: '', variables: { id: accepted.deployment.id, afterSequence: 0 }, extensions: persistedQuery(hashOf('MobileDeployment')) };
      const stream = client.iterate(payload as never);
      const message = await stream.next();
      expect(message.value).toMatchObject({ data: { creditDeployment: { __typename: 'CreditDeploymentUpdate', sequence: 1, status: 'QUEUED' } } });
      // Relay's shape (documentId) on the socket too.
      const byDocumentId = client.iterate({ query: '', documentId: hashOf('MobileDeployment'), variables: { id: accepted.deployment.id, afterSequence: 0 } } as never);
      expect((await byDocumentId.next()).value).toMatchObject({ data: { creditDeployment: { sequence: 1 } } });
      await byDocumentId.return?.(undefined);
      await stream.return?.(undefined);
    } finally {
      await client.dispose();
    }
  });
});

describe('a second API process', () => {
  const second = { url: '', close: async () => {} };
  const publisher = createRedis('publisher', testRedis);
  afterAll(async () => {
    await second.close();
    await closeRedis(publisher);
  });

  it('serves an operation registered after it started, without a restart, within seconds', async () => {
    const running = await startService({ api: true, worker: false, port: 0, adminPort: 0, config: production });
    Object.assign(second, { url: running.url!, close: () => running.close() });
    const body = 'query MobileLate {\n  me {\n    __typename\n    id\n  }\n}';
    const id = createHash('sha256').update(body).digest('hex');
    const userId = newUserId();
    const userToken = await token(userId);
    // It has asked the registry and been told the hash is unknown (and remembers that for a few seconds).
    expect((await post(second.url, { extensions: persistedQuery(id) }, userToken)).errors?.[0]?.message).toBe('PersistedQueryNotFound');
    const askedAt = Date.now();

    await registerManifest(
      { limits: { ...CONTRACT_LIMITS, exposeSchema: false }, redis: publisher, prefix: testConfig.REDIS_PREFIX },
      { client: 'mobile-ios', version: '5.2.0' },
      { format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id, body, name: 'MobileLate', type: 'query' }] },
    );

    // The announcement, not the expiry of what it remembered, makes it known: well within those seconds.
    let served: Awaited<ReturnType<typeof post>>;
    do served = await post(second.url, { extensions: persistedQuery(id) }, userToken);
    while (served.errors && Date.now() - askedAt < 2_000);
    expect(served.errors).toBeUndefined();
    expect(served.data.me.id).toBe(userId);
  });
});

describe('usage and retirement', () => {
  it('counts uses by registered client version only, lists when each operation was last used, and retires a version', { timeout: 180_000 }, async () => {
    const userToken = await token(newUserId());
    await post(service.url, { extensions: persistedQuery(hashOf('MobileProfile')) }, userToken, ANDROID);
    await post(service.url, { extensions: persistedQuery(hashOf('MobileProfile')) }, userToken, { 'apollographql-client-name': 'made-up', 'apollographql-client-version': '9' });
    const metrics = await scrapeMetrics(service.adminUrl);
    expect(metrics.value('graphql_persisted_operations_total', { client: 'mobile-android', version: '3.1.0', operation: 'MobileProfile' })).toBeGreaterThanOrEqual(1);
    expect(metrics.value('graphql_persisted_operations_total', { client: 'unregistered', operation: 'MobileProfile' })).toBeGreaterThanOrEqual(1);
    expect(metrics.samples.some((sample) => sample.labels.client === 'made-up')).toBe(false);

    // Written by the API within OPERATIONS_USAGE_FLUSH_MS (100 ms here).
    const deadline = Date.now() + 5_000;
    while (!(await prisma.operationRegistration.findFirst({ where: { clientName: 'mobile-android', clientVersion: '3.1.0', hash: hashOf('MobileProfile'), lastUsedAt: { not: null } } }))) {
      if (Date.now() > deadline) throw new Error('the last use was not recorded');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const usage = await command('usage', ['--client', 'mobile-android', '--version', '3.1.0']);
    expect(usage.code).toBe(0);
    expect(usage.stdout).toMatch(/^mobile-android 3\.1\.0 \(last used \d{4}-/m);
    expect(usage.stdout).toMatch(/MobileProfile\s+query\s+\d{4}-\d\d-\d\dT/);
    expect(usage.stdout).toMatch(/MobileNotifications\s+subscription\s+never/);

    const refused = await command('retire', ['--client', 'mobile-android', '--version', '3.1.0']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/within the last 30 days/);
    expect((await post(service.url, { extensions: persistedQuery(hashOf('MobileProfile')) }, userToken)).errors).toBeUndefined();

    const forced = await command('retire', ['--client', 'mobile-android', '--version', '3.1.0', '--force']);
    expect(forced.stdout).toMatch(/retired: 5 registrations, 5 operations/);
    expect(forced.code).toBe(0);
    // Announced to the API processes: gone at once (not only when their cache would expire).
    const retiredAt = Date.now();
    let gone: Awaited<ReturnType<typeof post>>;
    do gone = await post(service.url, { extensions: persistedQuery(hashOf('MobileProfile')) }, userToken);
    while (!gone.errors && Date.now() - retiredAt < 2_000);
    expect(gone.errors?.[0]).toMatchObject({ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });
    // The first-party client's operations stay.
    expect(await prisma.operationRegistration.count({ where: { clientName: 'credit-service' } })).toBeGreaterThan(10);
  });
});
