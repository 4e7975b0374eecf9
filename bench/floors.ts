// The floors: what the pieces underneath one request cost on this machine, measured in the same run
// as the service, so that the distance of each figure from its floor is known:
//   - HTTP: a bare node:http server answering the exact bytes the API answers to `{ __typename }`,
//     to the same client, against `{ __typename }` through the API, and a bare graphql-yoga server
//     (a one-field schema, no plugins) answering the same query: what the stack itself costs
//     (alternating blocks, each server warmed first: see HTTP_WARM_UP);
//   - the accept's SQL: its two statements (the offer read, the acceptance written) through pg;
//   - the enqueue: one Redis round trip (a script writing the job's hash and pushing its id);
//   - the apply's SQL: one deployment's transaction as bench/sql-limit.ts writes it, one at a time;
//   - graphql-ws: a message round trip (subscribe to `{ __typename }`, its result) on a bare
//     graphql-ws server with a one-field schema.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { createClient } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { Redis } from 'ioredis';
import pg from 'pg';
import WebSocket, { WebSocketServer } from 'ws';
import { tokenSigner } from '../src/api/auth.ts';
import { loadConfig } from '../src/platform/config.ts';
import { seedPendingOffers, seedQueuedDeployments } from './seed.ts';
import { deployOne } from './sql-limit.ts';
import { since, summarize, type LatencySummary } from './stats.ts';

export interface Floors {
  samples: number;
  /** `{ __typename }` through the API (edge on, an ops token: staff may send documents). */
  apiTypenameMs: LatencySummary;
  bareHttpMs: LatencySummary;
  /** `{ __typename }` through a bare graphql-yoga (one-field schema, no plugins, no edge). */
  bareYogaMs: LatencySummary;
  acceptSqlMs: LatencySummary;
  redisRoundTripMs: LatencySummary;
  applySqlMs: LatencySummary;
  graphqlWsRoundTripMs: LatencySummary;
}

const listen = (server: Server) =>
  new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));

async function timed(count: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await fn(i);
    samples.push(since(start));
  }
  return samples;
}

/**
 * Requests each server answers before it is timed. Measured (2026-12-07, blocks of 500 after a
 * fresh start): the API's p50 fell from 3.1 ms in its first 500 requests to 0.9 ms after 4,000,
 * and the bare server's (with the client's own code) from 0.9 to 0.3 ms: timing the first few
 * hundred compared a JIT-cold service with a warm client, not the per-request cost.
 */
const HTTP_WARM_UP = 3_000;

/**
 * The API's answer to `{ __typename }`, a bare server answering the same bytes, and a bare
 * graphql-yoga answering the same query, each warmed, then timed in alternating blocks.
 */
async function httpFloor(apiUrl: string, count: number): Promise<{ api: number[]; bare: number[]; yoga: number[] }> {
  const token = await tokenSigner(loadConfig().JWT_SECRET)('bench-floors', ['ops']);
  const body = JSON.stringify({ query: '{ __typename }' });
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` };
  const first = await fetch(`${apiUrl}/graphql`, { method: 'POST', headers, body });
  const answer = Buffer.from(await first.arrayBuffer());
  if (!first.ok) throw new Error(`{ __typename } through the API: HTTP ${first.status} ${answer.toString()}`);
  const contentType = first.headers.get('content-type') ?? 'application/json';
  const bare = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': contentType, 'content-length': answer.length }).end(answer));
  });
  const yoga = createServer(createYoga({ schema: createSchema({ typeDefs: 'type Query { ok: Boolean }' }), graphiql: false, logging: false }));
  const [bareUrl, yogaUrl] = [await listen(bare), await listen(yoga)];
  const call = (url: string) => async () => {
    const response = await fetch(`${url}/graphql`, { method: 'POST', headers, body });
    await response.arrayBuffer();
  };
  const samples = { api: [] as number[], bare: [] as number[], yoga: [] as number[] };
  const urls = { api: apiUrl, bare: bareUrl, yoga: yogaUrl };
  try {
    for (const url of Object.values(urls)) await timed(HTTP_WARM_UP, call(url));
    const block = Math.max(10, Math.floor(count / 5));
    for (let done = 0; done < count; done += block) {
      for (const name of ['api', 'yoga', 'bare'] as const) samples[name].push(...(await timed(block, call(urls[name]))));
    }
  } finally {
    bare.close();
    yoga.close();
  }
  return samples;
}

/** The accept's two statements as src/domain/offers.ts sends them (the offer read, then the acceptance CTE). */
const READ_OFFER = `SELECT o.id, o.user_id, o.limit_cents, o.interest_rate_bps, o.currency, o.status::text, o.expires_at, d.id AS deployment_id, d.status::text AS deployment_status
  FROM credit_offers o LEFT JOIN credit_deployments d ON d.offer_id = o.id WHERE o.id = $1::uuid AND o.user_id = $2`;
const RECORD_ACCEPTANCE = `WITH o AS (
  UPDATE credit_offers SET status = 'ACCEPTED', accepted_at = now() WHERE id = $1::uuid AND status = 'PENDING' AND expires_at > now() RETURNING id),
u AS (UPDATE users SET last_acceptance_sequence = last_acceptance_sequence + 1 WHERE id = $2 AND EXISTS (SELECT 1 FROM o) RETURNING last_acceptance_sequence AS sequence),
s AS (UPDATE credit_offers SET status = 'SUPERSEDED' WHERE id IN (SELECT p.id FROM credit_offers p, u
        WHERE p.user_id = $2 AND p.status = 'PENDING' AND p.id <> $1::uuid FOR UPDATE OF p SKIP LOCKED)),
c AS (INSERT INTO acceptance_consents (id, offer_id, user_id, accepted_at, ip_address, user_agent, terms, terms_hash, correlation_id)
      SELECT gen_random_uuid(), o.id, $2, now(), '127.0.0.1', 'bench', '{"limitCents":"150000"}'::jsonb, md5($1::text), $3 FROM o),
d AS (INSERT INTO credit_deployments (id, offer_id, user_id, status, currency, new_limit_cents, correlation_id, last_sequence, queued_at, acceptance_sequence)
      SELECT gen_random_uuid(), o.id, $2, 'QUEUED', 'BRL', 150000, $3, 1, now(), u.sequence FROM o, u RETURNING *),
e AS (INSERT INTO deployment_events (deployment_id, sequence, type, status, correlation_id, detail)
      SELECT d.id, 1, 'QUEUED', 'QUEUED', $3, jsonb_build_object('offerId', d.offer_id::text) FROM d)
SELECT d.id, d.status::text FROM d`;

async function acceptSqlFloor(db: pg.Pool, count: number): Promise<number[]> {
  const users = Array.from({ length: count }, (_, i) => `bench-floor-accept-${Date.now()}-${i}`);
  const offers = await seedPendingOffers(db, users);
  const client = await db.connect();
  try {
    return await timed(count, async (i) => {
      await client.query(READ_OFFER, [offers[i], users[i]]);
      const { rowCount } = await client.query(RECORD_ACCEPTANCE, [offers[i], users[i], `floor-${i}`]);
      if (rowCount !== 1) throw new Error('the accept floor accepted nothing: keep bench/floors.ts in step with src/domain/offers.ts');
    });
  } finally {
    client.release();
  }
}

/** One round trip that writes a job as BullMQ's add does in one script: the job's hash and its id on the wait list. */
async function redisFloor(redisUrl: string, prefix: string, count: number): Promise<number[]> {
  const redis = new Redis(redisUrl);
  const script = `redis.call('HSET', KEYS[1], 'name', 'deploy', 'data', ARGV[1], 'timestamp', ARGV[2]); return redis.call('LPUSH', KEYS[2], ARGV[3])`;
  try {
    await redis.script('LOAD', script);
    const data = JSON.stringify({ deploymentId: '00000000-0000-0000-0000-000000000000', correlationId: 'floor' });
    return await timed(count, (i) => redis.eval(script, 2, `${prefix}:floor:job:${i}`, `${prefix}:floor:wait`, data, String(Date.now()), String(i)));
  } finally {
    redis.disconnect();
  }
}

async function applySqlFloor(db: pg.Pool, count: number): Promise<number[]> {
  const seeded = await seedQueuedDeployments(db, Array.from({ length: count }, (_, i) => `bench-floor-apply-${Date.now()}-${i}`));
  const client = await db.connect();
  try {
    return await timed(count, (i) => deployOne(client, seeded[i]!.id));
  } finally {
    client.release();
  }
}

async function graphqlWsFloor(count: number): Promise<number[]> {
  const schema = buildSchema('type Query { ok: Boolean }');
  const http = createServer();
  const wss = new WebSocketServer({ server: http, path: '/graphql' });
  const server = useServer({ schema, roots: { query: { ok: () => true } } }, wss);
  const url = (await listen(http)).replace(/^http/, 'ws');
  const client = createClient({ url: `${url}/graphql`, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
  const once = () =>
    new Promise<void>((resolve, reject) => {
      client.subscribe({ query: '{ __typename }' }, { next: () => undefined, error: reject, complete: resolve });
    });
  try {
    await once();
    return await timed(count, once);
  } finally {
    await client.dispose();
    await server.dispose();
    http.close();
  }
}

export async function measureFloors(options: { apiUrl: string; db: pg.Pool; redisUrl: string; redisPrefix: string; samples: number }): Promise<Floors> {
  const { apiUrl, db, redisUrl, redisPrefix, samples } = options;
  const { api, bare, yoga } = await httpFloor(apiUrl, samples);
  return {
    samples,
    apiTypenameMs: summarize(api),
    bareHttpMs: summarize(bare),
    bareYogaMs: summarize(yoga),
    acceptSqlMs: summarize(await acceptSqlFloor(db, samples)),
    redisRoundTripMs: summarize(await redisFloor(redisUrl, redisPrefix, samples)),
    applySqlMs: summarize(await applySqlFloor(db, samples)),
    graphqlWsRoundTripMs: summarize(await graphqlWsFloor(samples)),
  };
}
