// The run's figures: a table on the console and bench/results/<timestamp>.json with everything.
import { mkdir, writeFile } from 'node:fs/promises';
import type { JourneyResult } from './journeys.ts';
import type { Machine } from './machine.ts';
import type { SqlLimitResult } from './sql-limit.ts';
import type { LatencySummary } from './stats.ts';
import type { SubscriptionScaleResult } from './subscriptions.ts';
import type { DrainResult } from './throughput.ts';

export interface Comparison {
  workers: number;
  connections: number;
  deploymentsPerSecond: number;
  sqlLimitPerSecond: number;
  percentOfLimit: number;
}

export interface Target {
  name: string;
  target: string;
  measured: string;
  met: boolean;
}

export interface BenchResults {
  startedAt: string;
  /** The code measured: commit, and whether the working tree differed from it. */
  code: { commit: string; dirty: boolean };
  durationSeconds: number;
  mode: 'quick' | 'full';
  machine: Machine;
  settings: Record<string, unknown>;
  journeys: JourneyResult[];
  backlogAccept: { concurrency: number; acceptMs: LatencySummary; offersPerSecond: number } | null;
  throughput: DrainResult[];
  sqlLimit: SqlLimitResult[];
  comparison: Comparison[];
  subscriptions: SubscriptionScaleResult | null;
  targets: Target[];
}

export function compare(throughput: DrainResult[], limits: SqlLimitResult[], poolSize: number): Comparison[] {
  return throughput.flatMap((t) => {
    const limit = limits.find((l) => l.connections === t.workers * poolSize);
    if (!limit) return [];
    const percent = Math.round((t.deploymentsPerSecond / limit.transactionsPerSecond) * 100);
    return [{ workers: t.workers, connections: limit.connections, deploymentsPerSecond: t.deploymentsPerSecond, sqlLimitPerSecond: limit.transactionsPerSecond, percentOfLimit: percent }];
  });
}

const ms = (x: number) => `${x} ms`;

/** The targets, each judged from the figures of this run. */
export function judgeTargets(r: Omit<BenchResults, 'targets'>): Target[] {
  const targets: Target[] = [];
  const add = (name: string, target: string, measured: number | undefined, limit: number, unit = ms) => {
    if (measured !== undefined) targets.push({ name, target, measured: unit(measured), met: measured <= limit });
  };
  const at = (users: number) => r.journeys.find((j) => j.users === users);
  add('acceptOffer p50, 32 users', '<= 5 ms', at(32)?.acceptMs.p50, 5);
  add('acceptOffer p99, 32 users', '<= 20 ms', at(32)?.acceptMs.p99, 20);
  add('accept -> DEPLOYED p50, 1 user', '<= 10 ms', at(1)?.acceptToDeployedMs.p50, 10);
  add('accept -> DEPLOYED p99, 1 user', '<= 25 ms', at(1)?.acceptToDeployedMs.p99, 25);
  for (const c of r.comparison) {
    targets.push({ name: `throughput, ${c.workers} worker(s) vs SQL limit at ${c.connections} connections`, target: '>= 70%', measured: `${c.percentOfLimit}%`, met: c.percentOfLimit >= 70 });
  }
  const top = r.subscriptions?.levels.at(-1);
  if (top) {
    const mib = (x: number) => `${x} MiB`;
    add(`API peak RSS, ${top.subscriptions} idle subscriptions`, '<= 1024 MiB', top.apiPeakRssMiB, 1024, mib);
    add(`accept -> DEPLOYED p99, ${top.subscriptions} idle subscriptions`, '<= 25 ms (low-load p99 target)', top.acceptToDeployedMs.p99, 25);
  }
  return targets;
}

function table(rows: (string | number)[][]): string {
  const cells = rows.map((row) => row.map(String));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  // Columns of figures right-aligned (header included), labels and notes left-aligned.
  const figure = /^[\d.-]*%?$/;
  const numeric = widths.map((_, i) => i > 0 && cells.slice(1).every((row) => figure.test(row[i] ?? '')));
  const pad = (c: string, i: number) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!));
  return cells.map((row) => row.map(pad).join('  ').trimEnd()).join('\n');
}

const lat = (s: LatencySummary) => [s.p50, s.p95, s.p99, s.max];

export function printResults(r: BenchResults): void {
  const m = r.machine;
  console.log(`\n${m.cores} cores ${m.cpuModel}, Node ${m.node}, Postgres ${m.postgres}, Redis ${m.redis}; ${r.mode} run, ${r.durationSeconds} s`);
  console.log(`code: ${r.code.commit}${r.code.dirty ? ' with uncommitted changes' : ''}`);
  console.log('\nLatency (ms)');
  const rows: (string | number)[][] = [['', 'n', 'p50', 'p95', 'p99', 'max', 'throughput']];
  for (const j of r.journeys) {
    rows.push([`acceptOffer, ${j.users} users`, j.acceptMs.count, ...lat(j.acceptMs), `${j.journeysPerSecond} journeys/s`]);
    const cpu = j.cpu ? `CPU/journey: API ${j.cpu.apiMsPerJourney} ms, worker ${j.cpu.workerMsPerJourney} ms; machine ${j.cpu.machineBusyPercent}% busy` : '';
    rows.push([`accept -> DEPLOYED, ${j.users} users`, j.acceptToDeployedMs.count, ...lat(j.acceptToDeployedMs), cpu]);
  }
  if (r.backlogAccept) {
    const b = r.backlogAccept;
    rows.push([`acceptOffer, ${b.concurrency} callers, no worker`, b.acceptMs.count, ...lat(b.acceptMs), `${b.offersPerSecond} offers/s`]);
  }
  for (const l of r.subscriptions?.levels ?? []) rows.push([`accept -> DEPLOYED, ${l.subscriptions} idle subs`, l.acceptToDeployedMs.count, ...lat(l.acceptToDeployedMs), '']);
  console.log(table(rows));

  console.log('\nThroughput');
  const t: (string | number)[][] = [['', 'deployments', 'seconds', 'per second', 'commits/dep.', 'worker CPU ms/dep.', 'machine busy', 'SQL limit/s', '% of limit']];
  for (const d of r.throughput) {
    const c = r.comparison.find((x) => x.workers === d.workers);
    t.push([`${d.workers} worker(s) x concurrency ${d.concurrencyPerWorker}`, d.deployments, d.seconds, d.deploymentsPerSecond, d.commitsPerDeployment, d.workerCpuMsPerDeployment, `${d.machineBusyPercent}%`, c?.sqlLimitPerSecond ?? '', c ? `${c.percentOfLimit}%` : '']);
  }
  for (const l of r.sqlLimit) t.push([`plain SQL, ${l.connections} connections`, l.transactions, l.seconds, l.transactionsPerSecond, 1, '', '', '', '']);
  console.log(table(t));

  if (r.subscriptions) {
    console.log(`\nIdle subscriptions (${r.subscriptions.subscriptionsPerSocket} per socket; API RSS before: ${r.subscriptions.baselineApiRssMiB} MiB)`);
    const s: (string | number)[][] = [['subscriptions', 'sockets', 'open s', 'RSS MiB', 'peak MiB', 'idle API CPU %', 'dropped']];
    for (const l of r.subscriptions.levels) s.push([l.subscriptions, l.sockets, l.openSeconds, l.apiRssMiB, l.apiPeakRssMiB, l.idleApiCpuPercent, l.droppedSockets]);
    console.log(table(s));
  }

  console.log('\nTargets');
  console.log(table([['', 'target', 'measured', ''], ...r.targets.map((x) => [x.name, x.target, x.measured, x.met ? 'met' : 'MISSED'])]));
}

export async function writeResults(r: BenchResults, dir: URL): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = new URL(`${r.startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`, dir);
  await writeFile(file, `${JSON.stringify(r, null, 2)}\n`);
  return file.pathname;
}
