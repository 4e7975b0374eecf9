// Figure 6: the open loop. Accepts arrive at a fixed offered rate (50, 100, 200, 400 per second),
// whatever the service's answers do, as requests from many phones would. Every user's WebSocket
// and its `notifications` subscription are open before the timed window (an app on screen); the
// offers are issued before it too (set-up, written as issueCreditOffer writes them). Accept i is
// due at t0 + i / rate; both latencies count from that intended time, not from when the request
// actually left, so a generator or a server that falls behind cannot hide the wait (no coordinated
// omission). After its answer, the accept's user subscribes to the deployment on its open socket
// and waits for DEPLOYED, as the app does.
import { availableParallelism } from 'node:os';
import type { Client } from 'graphql-ws';
import type pg from 'pg';
import { acceptOffer, newUser, openSocket, untilDeployed, watchInbox, type User } from './api-client.ts';
import { forEachLimit, sleep } from './parallel.ts';
import { cpuSeconds, machineBusySeconds } from './proc.ts';
import { seedPendingOffers } from './seed.ts';
import { median, medianSummary, summarize, type LatencySummary } from './stats.ts';

export interface OpenLoopRun {
  offeredPerSecond: number;
  accepts: number;
  /** Accepts answered per second: answered / (last answer - t0). */
  achievedPerSecond: number;
  /** How late the generator sent (actual - intended): p99 and max, ms. Large values: the generator was the bottleneck. */
  sendLagMs: { p99: number; max: number };
  acceptMs: LatencySummary;
  acceptToDeployedMs: LatencySummary;
  /** Accepts that failed, or deployments not DEPLOYED within the deadline. */
  errors: number;
  /** The first few distinct error messages. */
  errorSamples: string[];
  /** CPU of this process (the load generator) over the run, percent of one core. */
  generatorCpuPercent: number;
  /** CPU of the service's processes per accept, ms; and the whole machine's share. */
  serviceCpuMsPerAccept: number;
  machineBusyPercent: number;
}

export interface OpenLoopUsers {
  users: User[];
  sockets: Client[];
  /** In-app notifications received on the users' `notifications` subscriptions. */
  notificationsReceived(): number;
  /** `notifications` subscriptions the server ended with an error. */
  inboxErrors(): number;
  close(): Promise<void>;
}

/** A deployment still not DEPLOYED this long after its intended send time counts as an error. */
const DEPLOYED_DEADLINE_MS = 120_000;

/** `count` users, each with an open graphql-ws connection and a live `notifications` subscription. */
export async function openUsers(url: string, count: number): Promise<OpenLoopUsers> {
  const users = await Promise.all(Array.from({ length: count }, (_, i) => newUser(`open${i}`)));
  // sockets[i] is users[i]'s: an accept's deployment is watched on its own user's socket.
  const sockets: Client[] = new Array<Client>(count);
  let received = 0;
  // graphql-ws confirms nothing until a message: a refused subscription shows up here, before any window.
  const inboxErrors: unknown[] = [];
  await forEachLimit(users, 50, async (user, i) => {
    const socket = await openSocket(url, user.token);
    sockets[i] = socket;
    watchInbox(socket, () => void (received += 1), (error) => inboxErrors.push(error));
  });
  return {
    users,
    sockets,
    inboxErrors: () => inboxErrors.length,
    notificationsReceived: () => received,
    close: () => forEachLimit(sockets, 200, (s) => s.dispose() as Promise<void>),
  };
}

export interface OpenLoopOptions {
  url: string;
  db: pg.Pool;
  people: OpenLoopUsers;
  perSecond: number;
  seconds: number;
  /** The service's process ids, for CPU per accept. */
  servicePids: () => number[];
}

/** One window at one offered rate; resolves when every deployment is DEPLOYED (or past its deadline). */
export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopRun> {
  const { url, db, people, perSecond, seconds } = options;
  if (people.inboxErrors() > 0) throw new Error(`${people.inboxErrors()} notifications subscriptions were refused; see the API log`);
  const total = Math.round(perSecond * seconds);
  if (total > people.users.length) throw new Error(`${total} accepts need as many users; ${people.users.length} are open`);
  // One accept per user in a window (accepting an offer supersedes the user's other PENDING offers);
  // the previous window's deployments are all final before this one starts.
  const owners = Array.from({ length: total }, (_, i) => i);
  const offers = await seedPendingOffers(db, owners.map((o) => people.users[o]!.id));
  const accept: number[] = [];
  const deployed: number[] = [];
  const lag: number[] = [];
  let errors = 0;
  const errorSamples = new Set<string>();
  let lastAnswer = 0;

  const serviceCpu = async () => (await Promise.all(options.servicePids().map(cpuSeconds))).reduce((a, b) => a + b, 0);
  const [cpuBefore, busyBefore, ownBefore] = [await serviceCpu(), await machineBusySeconds(), process.cpuUsage()];
  const interval = 1000 / perSecond;
  const t0 = performance.now() + 20;
  const inFlight: Promise<void>[] = [];

  const one = async (i: number, intended: number) => {
    const user = people.users[owners[i]!]!;
    try {
      const deploymentId = await acceptOffer(url, user, offers[i]!);
      const answered = performance.now();
      lastAnswer = Math.max(lastAnswer, answered);
      accept.push(answered - intended);
      await withDeadline(untilDeployed(people.sockets[owners[i]!]!, deploymentId), intended + DEPLOYED_DEADLINE_MS - performance.now());
      deployed.push(performance.now() - intended);
    } catch (error) {
      errors += 1;
      if (errorSamples.size < 5) errorSamples.add(error instanceof Error ? error.message : String(error));
    }
  };

  // The schedule: every accept whose time has come is sent now; then sleep until the next one.
  for (let i = 0; i < total; ) {
    const now = performance.now();
    while (i < total && t0 + i * interval <= now) {
      const intended = t0 + i * interval;
      lag.push(now - intended);
      inFlight.push(one(i, intended));
      i += 1;
    }
    if (i < total) await sleep(Math.max(0, t0 + i * interval - performance.now()));
  }
  await Promise.all(inFlight);
  const wallSeconds = (performance.now() - t0) / 1000;
  // Past their deadline, deployments may still be queued: the next window starts on an empty queue.
  await untilNoneOpen(db);
  const own = process.cpuUsage(ownBefore);
  const serviceSeconds = (await serviceCpu()) - cpuBefore;
  const busy = (await machineBusySeconds()) - busyBefore;
  const lagSummary = summarize(lag);
  return {
    offeredPerSecond: perSecond,
    accepts: total,
    achievedPerSecond: round1((accept.length / (lastAnswer - t0)) * 1000),
    sendLagMs: { p99: lagSummary.p99, max: lagSummary.max },
    acceptMs: summarize(accept),
    acceptToDeployedMs: summarize(deployed),
    errors,
    errorSamples: [...errorSamples],
    generatorCpuPercent: Math.round(((own.user + own.system) / 1e6 / wallSeconds) * 100),
    serviceCpuMsPerAccept: round1((serviceSeconds / total) * 1000),
    machineBusyPercent: Math.round((busy / (wallSeconds * availableParallelism())) * 100),
  };
}

/** Bounded wait until no deployment is unfinished. */
async function untilNoneOpen(db: pg.Pool): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (Date.now() < deadline) {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM credit_deployments WHERE status IN ('QUEUED', 'PROCESSING', 'RETRYING')`);
    if (rows[0].n === 0) return;
    await sleep(200);
  }
  throw new Error('deployments of the open loop still unfinished after 10 minutes');
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('deadline')), Math.max(0, ms))));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** Each figure the median of the repetitions' (latency rows are medians of 3 runs). */
export function medianRun(runs: OpenLoopRun[]): OpenLoopRun {
  const med = (pick: (r: OpenLoopRun) => number) => median(runs.map(pick));
  return {
    offeredPerSecond: runs[0]!.offeredPerSecond,
    accepts: runs.reduce((n, r) => n + r.accepts, 0),
    achievedPerSecond: med((r) => r.achievedPerSecond),
    sendLagMs: { p99: med((r) => r.sendLagMs.p99), max: med((r) => r.sendLagMs.max) },
    acceptMs: medianSummary(runs.map((r) => r.acceptMs)),
    acceptToDeployedMs: medianSummary(runs.map((r) => r.acceptToDeployedMs)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    errorSamples: [...new Set(runs.flatMap((r) => r.errorSamples))].slice(0, 5),
    generatorCpuPercent: med((r) => r.generatorCpuPercent),
    serviceCpuMsPerAccept: med((r) => r.serviceCpuMsPerAccept),
    machineBusyPercent: med((r) => r.machineBusyPercent),
  };
}
