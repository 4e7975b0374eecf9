// Figure 5: many open, idle subscriptions on one API process. Each idle subscription watches a
// QUEUED deployment that no worker will touch (seeded without a job, see seed.ts), so the stream
// stays open and quiet, like a phone showing "processing". Meanwhile one user at a time runs
// the full journey, and its accept -> DEPLOYED is measured against that idle crowd.
import type { Client } from 'graphql-ws';
import type pg from 'pg';
import { tokenSigner } from '../src/api/auth.ts';
import { loadConfig } from '../src/platform/config.ts';
import { openSocket, watchDeployment } from './api-client.ts';
import { runJourneys } from './journeys.ts';
import { forEachLimit, sleep } from './parallel.ts';
import { cpuSeconds, memoryMiB } from './proc.ts';
import { seedQueuedDeployments } from './seed.ts';
import type { LatencySummary } from './stats.ts';

const signToken = tokenSigner(loadConfig().JWT_SECRET);

export interface SubscriptionLevel {
  subscriptions: number;
  sockets: number;
  /** Time to open this level's additional subscriptions (each acknowledged by its first message). */
  openSeconds: number;
  apiRssMiB: number;
  apiPeakRssMiB: number;
  /** API process CPU while nothing but the idle subscriptions runs (100 = one core). */
  idleApiCpuPercent: number;
  /** Sockets the server closed under us (should be 0). */
  droppedSockets: number;
  acceptToDeployedMs: LatencySummary;
}

export interface SubscriptionScaleResult {
  subscriptionsPerSocket: number;
  baselineApiRssMiB: number;
  levels: SubscriptionLevel[];
}

export interface SubscriptionScaleOptions {
  url: string;
  apiPid: number;
  db: pg.Pool;
  levels: number[];
  perSocket: number;
  activeSamples: number;
  idleWindowMs: number;
}

const OPENING_IN_PARALLEL = 100;

/** Opens `count` more idle subscriptions, `perSocket` per graphql-ws connection, one user per connection. */
async function openIdle(options: SubscriptionScaleOptions, count: number, sockets: Client[], onDrop: () => void): Promise<void> {
  const socketCount = Math.ceil(count / options.perSocket);
  const owners = Array.from({ length: socketCount }, (_, i) => `bench-idle-${sockets.length + i}-${process.pid}`);
  const userIds = Array.from({ length: count }, (_, i) => owners[Math.floor(i / options.perSocket)]!);
  const deployments = await seedQueuedDeployments(options.db, userIds);
  await forEachLimit(owners, OPENING_IN_PARALLEL, async (owner, s) => {
    const socket = await openSocket(options.url, await signToken(owner));
    socket.on('closed', onDrop);
    sockets.push(socket);
    const mine = deployments.slice(s * options.perSocket, (s + 1) * options.perSocket);
    await Promise.all(mine.map((d) => watchDeployment(socket, d.id, () => undefined)));
  });
}

/**
 * API CPU in the idle window, then the active journeys. (Database commits are not shown: Postgres
 * reports a backend's counts up to 10 s late, so the window would count the opening's queries.)
 */
async function measureLevel(options: SubscriptionScaleOptions): Promise<Omit<SubscriptionLevel, 'subscriptions' | 'sockets' | 'openSeconds' | 'droppedSockets'>> {
  const cpuBefore = await cpuSeconds(options.apiPid);
  await sleep(options.idleWindowMs);
  const idleCpu = (await cpuSeconds(options.apiPid)) - cpuBefore;
  const idle = await memoryMiB(options.apiPid);
  const seconds = options.idleWindowMs / 1000;
  const active = await runJourneys(options.url, 1, options.activeSamples);
  const after = await memoryMiB(options.apiPid);
  return {
    apiRssMiB: idle.rss,
    apiPeakRssMiB: after.peak,
    idleApiCpuPercent: Math.round((idleCpu / seconds) * 100),
    acceptToDeployedMs: active.acceptToDeployedMs,
  };
}

export async function runSubscriptionScale(options: SubscriptionScaleOptions): Promise<SubscriptionScaleResult> {
  const baseline = await memoryMiB(options.apiPid);
  const sockets: Client[] = [];
  let dropped = 0;
  const levels: SubscriptionLevel[] = [];
  let open = 0;
  try {
    for (const target of options.levels) {
      const begin = performance.now();
      await openIdle(options, target - open, sockets, () => (dropped += 1));
      open = target;
      const openSeconds = Math.round((performance.now() - begin) / 100) / 10;
      const measured = await measureLevel(options);
      levels.push({ subscriptions: open, sockets: sockets.length, openSeconds, ...measured, droppedSockets: dropped });
    }
  } finally {
    await forEachLimit(sockets, 500, (s) => s.dispose() as Promise<void>);
  }
  return { subscriptionsPerSocket: options.perSocket, baselineApiRssMiB: baseline.rss, levels };
}
