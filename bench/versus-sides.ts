// The two sides of the side-by-side run, behind one interface: this service (its production build,
// GraphQL over HTTP, the app's WebSocket already open) and the FastAPI + Celery + RabbitMQ design it
// replaces (REST, its client polling the status every 5 ms as that design implies). The workload
// code (bench/versus.ts) does the same thing to both.
import { readdir, readFile } from 'node:fs/promises';
import type { Client } from 'graphql-ws';
import pg from 'pg';
import { acceptOffer, newUser, openSocket, untilDeployed, type User } from './api-client.ts';
import { sleep } from './parallel.ts';
import { cpuSeconds, processTree } from './proc.ts';
import { seedPendingOffers } from './seed.ts';

export interface Offer {
  id: string;
  user: User;
}

/** The app on screen: for this service an open graphql-ws connection; for the peer nothing (it polls). */
export interface Watcher {
  close(): Promise<void>;
}

export interface Side {
  name: 'service' | 'peer';
  label: string;
  /** One PENDING offer for each of `count` new users (set-up, not timed). */
  offers(count: number, tag: string): Promise<Offer[]>;
  /** A new offer for a user who already has a watcher (set-up, not timed). */
  offerFor(user: User): Promise<Offer>;
  newUser(tag: string): Promise<User>;
  /** Resolves with the handle the app follows (deployment id / task id) once the accept is answered. */
  accept(offer: Offer): Promise<string>;
  watcher(user: User): Promise<Watcher>;
  /** Resolves when the app sees the deployment applied. */
  untilApplied(watcher: Watcher, handle: string): Promise<void>;
  /** How many of `offers` are applied, and when the last one was (the side's own database clock). */
  applied(offers: Offer[]): Promise<{ count: number; last: Date | null }>;
  /** Every process that works for a deployment, by part (API, worker, PostgreSQL backends, broker). */
  processes(): Promise<Record<string, number[]>>;
}

const PEER_POLL_MS = 5;

/** PostgreSQL backends connected to `database`, but for the bench's own connections. */
async function backendsOf(admin: pg.Pool, database: string): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name NOT LIKE 'bench%' AND pid <> pg_backend_pid()`,
    [database],
  );
  return rows.map((r) => r.pid);
}

/** A process's command line, its arguments apart; [] when it is gone. */
async function argumentsOf(pid: number | string): Promise<string[]> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  } catch {
    return []; // gone meanwhile
  }
}

/** Processes whose command line matches, and everything below them. */
async function processesMatching(pattern: RegExp): Promise<number[]> {
  const roots: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    if (pattern.test((await argumentsOf(entry)).join(' '))) roots.push(Number(entry));
  }
  const all = new Set<number>();
  for (const pid of roots) for (const p of await processTree(pid)) all.add(p);
  return [...all];
}

/** The machine's Redis server (shared with anything else that uses it: its CPU is an upper bound). */
export const redisServerPids = () => processesMatching(/^\S*redis-server\s+\S*:6379\b/);

export interface ServiceSideOptions {
  url: string;
  /** The supervisor of `node dist/src/main.js all`: its tree is API and worker. */
  servicePid: number;
  db: pg.Pool;
  database: string;
}

export function serviceSide({ url, servicePid, db, database }: ServiceSideOptions): Side {
  const sockets = new WeakMap<Watcher, Client>();
  const side: Side = {
    name: 'service',
    label: 'this service (node dist/src/main.js all)',
    newUser: (tag) => newUser(`vs-${tag}`),
    async offers(count, tag) {
      const users = await Promise.all(Array.from({ length: count }, () => side.newUser(tag)));
      const ids = await seedPendingOffers(db, users.map((u) => u.id));
      return ids.map((id, i) => ({ id, user: users[i]! }));
    },
    async offerFor(user) {
      const [id] = await seedPendingOffers(db, [user.id]);
      return { id: id!, user };
    },
    accept: (offer) => acceptOffer(url, offer.user, offer.id),
    async watcher(user) {
      const client = await openSocket(url, user.token);
      const watcher = { close: () => client.dispose() as Promise<void> };
      sockets.set(watcher, client);
      return watcher;
    },
    // Subscribing after the answer misses nothing: the stream's first message is the current state.
    untilApplied: (watcher, handle) => untilDeployed(sockets.get(watcher)!, handle),
    async applied(offers) {
      const { rows } = await db.query<{ count: number; last: Date | null }>(
        `SELECT count(*)::int AS count, max(d.completed_at) AS last FROM credit_deployments d
          WHERE d.offer_id = ANY($1::uuid[]) AND d.status = 'DEPLOYED'`,
        [offers.map((o) => o.id)],
      );
      return rows[0]!;
    },
    async processes() {
      const [tree, postgres, redis] = await Promise.all([processTree(servicePid), backendsOf(db, database), redisServerPids()]);
      const parts: Record<string, number[]> = { api: [], worker: [], supervisor: [], postgres, redis };
      for (const pid of tree) parts[(await roleOf(pid)) ?? 'supervisor']!.push(pid);
      return parts;
    },
  };
  return side;
}

export interface PeerSideOptions {
  url: string;
  /** The peer's database on the same PostgreSQL (its run.sh: `celerypeer`). */
  db: pg.Pool;
  database: string;
}

async function peerJson(url: string, path: string, body?: unknown): Promise<any> {
  const response = await fetch(`${url}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`peer ${path}: HTTP ${response.status} ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

export function peerSide({ url, db, database }: PeerSideOptions): Side {
  const issue = async (user: User): Promise<Offer> => {
    const offer = await peerJson(url, '/api/v1/credit/offers', { user_id: user.id, offered_limit: '1500.00', interest_rate: '0.0250' });
    return { id: String(offer.id), user };
  };
  const side: Side = {
    name: 'peer',
    label: 'the Celery design (FastAPI + Celery + RabbitMQ)',
    // The peer keys users by a string of at most 64 characters.
    newUser: (tag) => newUser(`vs-${tag}`),
    async offers(count, tag) {
      const users = await Promise.all(Array.from({ length: count }, () => side.newUser(tag)));
      const offers: Offer[] = new Array(count);
      let next = 0;
      // Issuing is set-up: a few callers, as the peer's own bench does.
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < count) {
            const i = next++;
            offers[i] = await issue(users[i]!);
          }
        }),
      );
      return offers;
    },
    offerFor: issue,
    async accept(offer) {
      const answer = await peerJson(url, `/api/v1/credit/offers/${offer.id}/accept`, { user_id: offer.user.id });
      return answer.task_id as string;
    },
    watcher: async () => ({ close: async () => undefined }),
    // Polls on a fixed 5 ms cadence: the next poll is due 5 ms after the last one started.
    async untilApplied(_watcher, handle) {
      for (;;) {
        const started = performance.now();
        const status = await peerJson(url, `/api/v1/credit/deployments/${handle}`);
        if (status.status === 'completed') return;
        if (status.status === 'failed') throw new Error(`peer deployment ${handle} failed`);
        await sleep(Math.max(0, PEER_POLL_MS - (performance.now() - started)));
      }
    },
    async applied(offers) {
      const { rows } = await db.query<{ count: number; last: Date | null }>(
        `SELECT count(*)::int AS count, max(deployed_at) AS last FROM credit_offers WHERE id = ANY($1::bigint[]) AND status = 'deployed'`,
        [offers.map((o) => o.id)],
      );
      return rows[0]!;
    },
    async processes() {
      const [api, worker, broker, postgres] = await Promise.all([
        processesMatching(/uvicorn app\.main:app/),
        processesMatching(/celery -A app\.celery_app worker/),
        processesMatching(/beam\.smp.*rabbit|\bepmd\b/),
        backendsOf(db, database),
      ]);
      // Without them the CPU per deployment would be its database's alone: refuse rather than flatter.
      if (api.length + worker.length === 0) throw new Error("the Celery design's uvicorn and Celery processes were not found on this machine (its run.sh starts them)");
      return { api, worker, broker, postgres };
    },
  };
  return side;
}

/** The role of one of the service's node processes (`main.js api|worker`), null for the supervisor. */
async function roleOf(pid: number): Promise<'api' | 'worker' | null> {
  const args = await argumentsOf(pid);
  return args.includes('api') ? 'api' : args.includes('worker') ? 'worker' : null;
}

/** CPU seconds of each process of each part now. */
export async function cpuSnapshot(parts: Record<string, number[]>): Promise<Map<string, Map<number, number>>> {
  const read = async (pids: number[]) => new Map(await Promise.all([...new Set(pids)].map(async (pid) => [pid, await cpuSeconds(pid)] as [number, number])));
  return new Map(await Promise.all(Object.entries(parts).map(async ([part, pids]) => [part, await read(pids)] as const)));
}

/**
 * CPU seconds spent by each part between two snapshots; a process that appeared in between counts
 * from zero (take `after` over the union of the processes before and after).
 */
export function cpuBetween(before: Map<string, Map<number, number>>, after: Map<string, Map<number, number>>): Record<string, number> {
  const spent: Record<string, number> = {};
  for (const [part, pids] of after) {
    spent[part] = 0;
    for (const [pid, seconds] of pids) spent[part] += Math.max(0, seconds - (before.get(part)?.get(pid) ?? 0));
  }
  return spent;
}

/** Each part's processes before and now, together. */
export function unionOf(a: Record<string, number[]>, b: Record<string, number[]>): Record<string, number[]> {
  const parts: Record<string, number[]> = {};
  for (const part of new Set([...Object.keys(a), ...Object.keys(b)])) parts[part] = [...(a[part] ?? []), ...(b[part] ?? [])];
  return parts;
}
