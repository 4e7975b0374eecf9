// The edge, as an attacker meets it: documents too deep, too wide, too long, too costly;
// documents that are not the app's; the schema's shape. The service runs as in production
// (customers may send only persisted operations; no introspection, no suggestions, no GraphiQL).
// Each limit is sent as a raw document under the ops role (which may send documents), and each
// refusal is followed by an honest request that is served.
import { buildSchema, parse, validate } from 'graphql';
import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { costLimitRule } from '../src/api/document-cost.ts';
import manifest from '../src/generated/graphql/persisted-documents.json' with { type: 'json' };
import { prisma } from '../src/platform/db.ts';
import { engineToken, gql, gqlPersisted, newUserId, sseSubscribe, token } from './support/client.ts';
import { issueOffer } from './support/fixtures.ts';
import { presenceProbe } from './support/notification-fixtures.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig } from './support/settings.ts';

const service = serviceForTests({
  config: { ...testConfig, GRAPHQL_ALLOW_DOCUMENTS: false, GRAPHQL_EXPOSE_SCHEMA: false, GRAPHIQL: false },
});

const opsToken = () => token('ops-person', ['ops']);
const hashOf = (name: string) => {
  const entry = Object.entries(manifest).find(([, document]) => new RegExp(`(query|mutation|subscription) ${name}\\b`).test(document));
  if (!entry) throw new Error(`no persisted operation ${name}`);
  return entry[0];
};

async function honestRequestServed() {
  const userId = newUserId();
  const result = await gqlPersisted(service.url, hashOf('AppProfile'), {}, await token(userId));
  expect(result.status).toBe(200);
  expect(result.data.me.id).toBe(userId);
}

/** `me { offers { user { offers { ... } } } }`, `levels` fields deep. */
function deepDocument(levels: number): string {
  let body = 'id';
  for (let level = levels - 1; level >= 1; level -= 1) body = `${level % 2 === 1 ? 'offers' : 'user'} { ${body} }`;
  return `{ me { ${body} } }`;
}

describe('document limits (raw documents under the ops role)', () => {
  it('refuses a document deeper than 10 levels, running nothing', async () => {
    const result = await gql(service.url, deepDocument(26), {}, await opsToken());
    expect(result.status).toBe(400);
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.message).toMatch(/depth limit of 10 exceeded/);
    await honestRequestServed();
  });

  it('refuses more than 15 aliases, creating no user', async () => {
    const users = await prisma.user.count();
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: me { id }`).join(' ');
    const result = await gql(service.url, `{ ${aliases} }`, {}, await token(newUserId(), ['ops']));
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.message).toMatch(/Aliases limit of 15 exceeded/);
    expect(await prisma.user.count()).toBe(users);
    await honestRequestServed();
  });

  it('refuses more than 2,000 tokens (1,000 aliases never reach the alias count)', async () => {
    const users = await prisma.user.count();
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: me { id }`).join(' ');
    const result = await gql(service.url, `{ ${aliases} }`, {}, await token(newUserId(), ['ops']));
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.message).toMatch(/Token limit of 2000 exceeded/);
    expect(await prisma.user.count()).toBe(users);
    await honestRequestServed();
  });

  it('refuses more than 50 directives', async () => {
    const ids = Array.from({ length: 51 }, () => 'id @include(if: true)').join(' ');
    const result = await gql(service.url, `{ me { ${ids} } }`, {}, await opsToken());
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.message).toMatch(/Directives limit of 50 exceeded/);
    await honestRequestServed();
  });

  it('refuses lists nested into a cost above 10,000 (each list counts 20 without `first`)', async () => {
    const { userId } = await issueOffer(service.url);
    const nested = '{ me { offers { user { offers { user { offers { user { id } } } } } } } }';
    const result = await gql(service.url, nested, {}, await token(userId, ['ops']));
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.message).toMatch(/Query cost limit of 10000 exceeded, found 16842/);
    await honestRequestServed();
  });

  it('multiplies by `first`: two nested pages of 100 cost more than 10,000', async () => {
    const nested = 'query ($n: Int) { me { offers(first: $n) { id user { offers(first: $n) { id } } } } }';
    const refused = await gql(service.url, nested, { n: 100 }, await opsToken());
    expect(refused.status).toBe(400);
    expect(refused.errors?.[0]?.message).toMatch(/Query cost limit of 10000 exceeded, found 10302/);
    const served = await gql(service.url, nested, { n: 10 }, await opsToken());
    expect(served.errors, JSON.stringify(served.errors)).toBeUndefined();
  });

  it('counts a list field `first` times, from a literal or a variable', () => {
    const schema = buildSchema(`
      type Query { items(first: Int = 20): [Item!]! }
      type Item { id: ID! children(first: Int = 20): [Item!]! }
    `);
    const costOf = (document: string, variables = {}) => {
      const errors = validate(schema, parse(document), [costLimitRule(0, variables)]);
      return Number(/found (\d+)/.exec(errors[0]?.message ?? '')?.[1]);
    };
    expect(costOf('{ items { id } }')).toBe(1 + 20 * 1);
    expect(costOf('{ items(first: 2) { id children(first: 3) { id } } }')).toBe(1 + 2 * (1 + 1 + 3 * 1));
    expect(costOf('query ($n: Int) { items(first: $n) { id } }', { n: 100 })).toBe(1 + 100);
    expect(costOf('query ($n: Int) { items(first: $n) { id } }', { n: 5000 })).toBe(1 + 100); // over 100 is refused as input
    expect(costOf('{ items { ...F } } fragment F on Item { id children { id } }')).toBe(1 + 20 * (1 + 1 + 20));
  });
});

describe('persisted operations in production', () => {
  it('refuses a document that is not persisted from a customer token, on HTTP', async () => {
    const userId = newUserId();
    const result = await gql(service.url, '{ me { id } }', {}, await token(userId));
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
    expect(await prisma.user.count({ where: { id: userId } })).toBe(0);
    await honestRequestServed();
  });

  it('refuses an unknown hash, registering nothing', async () => {
    const result = await gqlPersisted(service.url, 'f'.repeat(64), {}, await token(newUserId()));
    expect(result.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const again = await gqlPersisted(service.url, 'f'.repeat(64), {}, await token(newUserId()), '{ me { id } }');
    expect(again.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
  });

  it('runs the same document from a staff token', async () => {
    const result = await gql(service.url, '{ me { id } }', {}, await opsToken());
    expect(result.errors).toBeUndefined();
    expect(result.data.me.id).toBe('ops-person');
  });

  it('applies the same rules on WebSocket: hashes for customers, documents for staff, the limits for all', async () => {
    const userId = newUserId();
    const ask = async (jwt: string, payload: { query: string; variables?: Record<string, unknown>; extensions?: Record<string, unknown> }) => {
      const client = createClient({ url: `${service.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${jwt}` }, retryAttempts: 0 });
      try {
        return await new Promise<any>((resolve) => client.subscribe(payload, { next: resolve, error: (errors) => resolve({ errors }), complete: () => {} }));
      } finally {
        await client.dispose();
      }
    };
    const customer = await token(userId);
    expect((await ask(customer, { query: '{ me { id } }' })).errors[0].extensions.code).toBe('PERSISTED_QUERY_ONLY');
    const byHash = { query: '', extensions: { persistedQuery: { version: 1, sha256Hash: hashOf('AppProfile').replace('sha256:', '') } } };
    expect((await ask(customer, byHash)).data.me.id).toBe(userId);
    expect((await ask(await opsToken(), { query: '{ me { id } }' })).data.me.id).toBe('ops-person');
    expect((await ask(await opsToken(), { query: deepDocument(26) })).errors[0].message).toMatch(/depth limit of 10 exceeded/);
    const pages = { query: 'query ($n: Int) { me { offers(first: $n) { id user { offers(first: $n) { id } } } } }', variables: { n: 100 } };
    const costly = (await ask(await opsToken(), pages)).errors[0];
    expect(costly.message).toMatch(/cost limit of 10000 exceeded/);
    expect(costly.extensions).toEqual({ code: 'QUERY_TOO_COSTLY' }); // no HTTP status on a socket
    expect(await prisma.user.count({ where: { id: userId } })).toBe(1);
  });

  it('takes the hash as Relay sends it (doc_id)', async () => {
    const userId = newUserId();
    const response = await fetch(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(userId)}` },
      body: JSON.stringify({ doc_id: hashOf('AppProfile').replace('sha256:', ''), variables: {} }),
    });
    expect(((await response.json()) as any).data.me.id).toBe(userId);
  });

  it('runs every operation of the manifest within the limits, on its transport', async () => {
    const userId = newUserId();
    const tokens = { customer: await token(userId), engine: await engineToken() };
    const probe = presenceProbe();
    try {
      for (const [hash, document] of Object.entries(manifest)) {
        const [, kind, name] = /(query|mutation|subscription) (\w+)/.exec(document)!;
        const { variables, as } = sample(name!);
        if (name === 'AppNotificationStream') {
          // A live stream sends nothing until there is news: it runs once the user counts as present.
          const controller = new AbortController();
          const response = await fetch(`${service.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${tokens.customer}` },
            body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: hash.replace('sha256:', '') } } }),
            signal: controller.signal,
          });
          expect(response.status).toBe(200);
          await probe.waitUntilPresent(userId);
          controller.abort();
        } else if (kind === 'subscription') {
          const stream = sseSubscribe(service.url, undefined, variables, tokens[as], hash);
          const first = (await stream.next()).value;
          await stream.return(undefined);
          expect(first?.errors?.[0]?.extensions?.code, name).toBe('NOT_FOUND'); // it ran: a random id is nobody's
        } else {
          const result = await gqlPersisted(service.url, hash, variables, tokens[as]);
          expect(result.status, name).toBe(200);
          expect(result.errors, name).toBeUndefined();
        }
      }
    } finally {
      await probe.close();
    }
  });
});

/** Variables each operation can run with, and who sends it. */
function sample(operation: string): { variables: Record<string, unknown>; as: 'customer' | 'engine' } {
  const id = '00000000-0000-4000-8000-000000000000';
  const input = { userId: newUserId(), limitCents: 1000, interestRateBps: 100, expiresAt: new Date(Date.now() + 60_000).toISOString() };
  if (operation === 'BenchIssueCampaign') return { variables: { inputs: [input] }, as: 'engine' };
  if (/Issue/.test(operation)) return { variables: { input }, as: 'engine' };
  if (operation === 'AppRegisterDevice') return { variables: { token: `fcm-${newUserId()}`, platform: 'ANDROID' }, as: 'customer' };
  if (operation === 'AppUnregisterDevice') return { variables: { token: `fcm-${newUserId()}` }, as: 'customer' };
  if (operation === 'AppUpdateNotificationPreferences') return { variables: { input: { timeZone: 'America/Sao_Paulo' } }, as: 'customer' };
  // Pages at their largest: the manifest must pass the cost limit even so.
  return { variables: { id, offerId: id, first: 100 }, as: 'customer' };
}

describe('the schema is not advertised in production', () => {
  it('refuses introspection', async () => {
    const result = await gql(service.url, '{ __schema { types { name } } }', {}, await opsToken());
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.message).toMatch(/introspection/i);
  });

  it('suggests no field names', async () => {
    const result = await gql(service.url, '{ me { idd } }', {}, await opsToken());
    expect(result.errors?.[0]?.message).not.toMatch(/Did you mean/);
  });

  it('serves no GraphiQL page', async () => {
    const response = await fetch(`${service.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await response.text()).not.toMatch(/graphiql/i);
  });
});
