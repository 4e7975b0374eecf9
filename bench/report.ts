// The run's figures: a table on the console and bench/results/<timestamp>.json with everything.
import { mkdir, writeFile } from 'node:fs/promises';
import type { EdgeCostResult } from './edge-cost.ts';
import type { JourneyResult } from './journeys.ts';
import type { Machine } from './machine.ts';
import type { OpenLoopRun } from './open-loop.ts';
import type { WritesComparison } from './row-counts.ts';
import type { SqlLimitResult } from './sql-limit.ts';
import type { LatencySummary } from './stats.ts';
import type { SubscriptionScaleResult } from './subscriptions.ts';
import type { DrainResult } from './throughput.ts';
import type { VersusSection } from './versus-report.ts';

export interface Comparison {
  label: string;
  workers: number;
  redis: 'single' | 'cluster';
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
  /** The edge settings each kind of process ran with, beyond the service's defaults (bench/edge-limits.ts). */
  edgeSettings: {
    /** Every process of the run: caps raised for the bench's load. */
    raisedForLoad: Record<string, string>;
    /** The idle-subscription phase's API, on top: its subscription caps. */
    idleSubscriptionsApi: Record<string, string> | null;
    /** The "off" API of the edge on/off rounds, on top: the switches that turn the protections off. */
    edgeOffRounds: Record<string, string>;
  };
  journeys: JourneyResult[];
  /** One user's latency with the edge on and off, interleaved rounds. */
  edgeCost: EdgeCostResult | null;
  /** Figure 6, one row per offered rate (medians of the repetitions). */
  openLoop: OpenLoopRun[];
  /** Half the drained capacity of one worker process in this run: the open loop's targets are judged there. */
  openLoopHalfCapacityPerSecond: number | null;
  /** `npm start` as a newcomer runs it: start-up (migration included) and the one-user rows. */
  newcomer: { startupMs: number; journeys: JourneyResult[]; oneProcess: JourneyResult[] } | null;
  backlogAccept: { concurrency: number; acceptMs: LatencySummary; offersPerSecond: number } | null;
  throughput: DrainResult[];
  sqlLimit: SqlLimitResult[];
  comparison: Comparison[];
  /** Rows per table each deployment added: the service's drain (one worker) against the SQL loop. */
  writes: WritesComparison;
  subscriptions: SubscriptionScaleResult | null;
  /** The floors, the per-hop table and the side-by-side rows against the Celery design. */
  versusSection: VersusSection;
  /** Share of the machine busy (all cores) over 5 s just before the run, with nothing of the bench running. */
  machineBusyBeforeRun: number;
  targets: Target[];
}

export function compare(throughput: DrainResult[], limits: SqlLimitResult[], poolSize: number): Comparison[] {
  return throughput.flatMap((t) => {
    const limit = limits.find((l) => l.connections === t.workers * poolSize);
    if (!limit) return [];
    const percent = Math.round((t.deploymentsPerSecond / limit.transactionsPerSecond) * 100);
    return [{ label: t.label, workers: t.workers, redis: t.redis, connections: limit.connections, deploymentsPerSecond: t.deploymentsPerSecond, sqlLimitPerSecond: limit.transactionsPerSecond, percentOfLimit: percent }];
  });
}

const ms = (x: number) => `${x} ms`;

/** Highest offered rate whose accept -> DEPLOYED p99 stayed under 100 ms (null: none did). */
export function highestRateUnder100ms(openLoop: OpenLoopRun[]): number | null {
  const ok = openLoop.filter((r) => r.errors === 0 && r.acceptToDeployedMs.p99 < 100).map((r) => r.offeredPerSecond);
  return ok.length > 0 ? Math.max(...ok) : null;
}

/** The service's performance targets, each judged from the figures of this run. */
export function judgeTargets(r: Omit<BenchResults, 'targets'>): Target[] {
  const targets: Target[] = [];
  const add = (name: string, target: string, measured: number | undefined, limit: number, unit = ms) => {
    if (measured !== undefined) targets.push({ name, target, measured: unit(measured), met: measured <= limit });
  };
  const oneWorker = r.comparison.find((c) => c.workers === 1 && c.redis === 'single' && c.label.startsWith('1 worker'));
  if (oneWorker) {
    targets.push({ name: 'drain, one worker process, vs the plain-SQL loop', target: '>= 70%', measured: `${oneWorker.percentOfLimit}%`, met: oneWorker.percentOfLimit >= 70 });
  }
  const npmStart = r.throughput.find((t) => t.label.startsWith('npm start'));
  if (npmStart) {
    targets.push({ name: 'drain with the default npm start', target: '>= 300/s', measured: `${npmStart.deploymentsPerSecond}/s`, met: npmStart.deploymentsPerSecond >= 300 });
  }
  const one = r.journeys.find((j) => j.users === 1);
  add('accept -> DEPLOYED p50, 1 user', '<= 8 ms', one?.acceptToDeployedMs.p50, 8);
  add('accept -> DEPLOYED p99, 1 user', '<= 20 ms', one?.acceptToDeployedMs.p99, 20);
  add('acceptOffer p50, 1 user', '<= 4 ms', one?.acceptMs.p50, 4);
  add('acceptOffer p99, 1 user', '<= 10 ms', one?.acceptMs.p99, 10);
  for (const f of r.edgeCost?.figures ?? []) {
    const sign = f.differenceMs >= 0 ? '+' : '';
    targets.push({
      name: `edge on vs off, 1 user: ${f.name}`,
      target: 'within 10% or 0.5 ms of off',
      measured: `${f.onMs} vs ${f.offMs} ms (${sign}${f.differenceMs} ms, ${sign}${f.differencePercent}%)`,
      met: f.met,
    });
  }
  // At half of what one worker process drained in this run, so the target moves with the machine.
  const half = r.openLoop.find((o) => o.offeredPerSecond === r.openLoopHalfCapacityPerSecond);
  if (half) {
    const at = `open loop at half the drained capacity (${half.offeredPerSecond}/s; generator ${half.generatorCpuPercent}% of a core)`;
    add(`${at}: acceptOffer p99`, '<= 25 ms', half.acceptMs.p99, 25);
    add(`${at}: accept -> DEPLOYED p99`, '<= 60 ms', half.acceptToDeployedMs.p99, 60);
  }
  const mib = (x: number) => `${x} MiB`;
  add('API baseline RSS', '<= 200 MiB', r.subscriptions?.baselineApiRssMiB, 200, mib);
  const top = r.subscriptions?.levels.at(-1);
  if (top) add(`API peak RSS, ${top.subscriptions} idle subscriptions`, '<= 500 MiB', top.apiPeakRssMiB, 500, mib);
  targets.push({ name: 'the SQL loop writes what the service writes (rows per table)', target: 'same', measured: r.writes.same ? 'same' : 'differs', met: r.writes.same });
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
  const besides = [
    ...(r.newcomer?.journeys ?? []).map((j) => ({ j, where: 'npm start' })),
    ...(r.newcomer?.oneProcess ?? []).map((j) => ({ j, where: 'one process (before)' })),
  ];
  for (const { j, where } of besides) {
    rows.push([`acceptOffer, ${j.users} users, ${where}`, j.acceptMs.count, ...lat(j.acceptMs), `${j.journeysPerSecond} journeys/s`]);
    const cpu = j.cpu ? `CPU/journey: all processes ${j.cpu.apiMsPerJourney} ms; machine ${j.cpu.machineBusyPercent}% busy` : '';
    rows.push([`accept -> DEPLOYED, ${j.users} users, ${where}`, j.acceptToDeployedMs.count, ...lat(j.acceptToDeployedMs), cpu]);
  }
  if (r.backlogAccept) {
    const b = r.backlogAccept;
    rows.push([`acceptOffer, ${b.concurrency} callers, no worker`, b.acceptMs.count, ...lat(b.acceptMs), `${b.offersPerSecond} offers/s`]);
  }
  for (const l of r.subscriptions?.levels ?? []) rows.push([`accept -> DEPLOYED, ${l.subscriptions} idle subs`, l.acceptToDeployedMs.count, ...lat(l.acceptToDeployedMs), '']);
  console.log(table(rows));
  if (r.journeys.length > 0) console.log(`(each row: the median of ${r.settings.repetitions} runs; n is their sum)`);
  if (r.newcomer) console.log(`npm start: up in ${r.newcomer.startupMs} ms (migration check included)`);

  if (r.edgeCost) {
    const e = r.edgeCost;
    console.log(`\nEdge on/off, 1 user (ms; ${e.roundsPerSide} interleaved rounds per side of ${e.journeysPerRound} journeys; each figure the median of its side's rounds)`);
    const rows: (string | number)[][] = [['', 'on', 'off', 'on - off', 'allowed', '']];
    for (const f of e.figures) rows.push([f.name, f.onMs, f.offMs, f.differenceMs, f.allowedMs, f.met ? 'met' : 'MISSED']);
    console.log(table(rows));
    const perRound = (side: 'on' | 'off') =>
      e.rounds
        .filter((x) => x.side === side)
        .map((x) => `${x.acceptP50Ms}/${x.acceptP99Ms}/${x.acceptToDeployedP50Ms}`)
        .join('  ');
    console.log(`each round's accept p50/p99/DEPLOYED p50, on:  ${perRound('on')}`);
    console.log(`each round's accept p50/p99/DEPLOYED p50, off: ${perRound('off')}`);
  }

  if (r.openLoop.length > 0) {
    console.log('\nOpen loop (ms from each accept\'s intended send time; medians of the runs)');
    const o: (string | number)[][] = [['offered/s', 'achieved/s', 'n', 'accept p50', 'accept p99', 'DEPLOYED p50', 'DEPLOYED p99', 'errors', 'send lag p99', 'generator CPU', 'service CPU ms/accept', 'machine busy']];
    for (const x of r.openLoop) {
      o.push([x.offeredPerSecond, x.achievedPerSecond, x.accepts, x.acceptMs.p50, x.acceptMs.p99, x.acceptToDeployedMs.p50, x.acceptToDeployedMs.p99, x.errors, x.sendLagMs.p99, `${x.generatorCpuPercent}%`, x.serviceCpuMsPerAccept, `${x.machineBusyPercent}%`]);
    }
    console.log(table(o));
    for (const x of r.openLoop) if (x.errorSamples.length > 0) console.log(`errors at ${x.offeredPerSecond}/s: ${x.errorSamples.join(' | ')}`);
    const top = highestRateUnder100ms(r.openLoop);
    console.log(`highest offered rate with accept -> DEPLOYED p99 under 100 ms: ${top === null ? 'none' : `${top}/s`}`);
  }

  console.log('\nThroughput');
  const t: (string | number)[][] = [['', 'deployments', 'seconds', 'per second', 'commits/dep.', 'mean batch', 'worker CPU ms/dep.', 'machine busy', 'SQL limit/s', '% of limit']];
  for (const d of r.throughput) {
    const c = r.comparison.find((x) => x.label === d.label);
    t.push([d.label, d.deployments, d.seconds, d.deploymentsPerSecond, d.commitsPerDeployment, d.meanBatchSize, d.workerCpuMsPerDeployment, `${d.machineBusyPercent}%`, c?.sqlLimitPerSecond ?? '', c ? `${c.percentOfLimit}%` : '']);
  }
  for (const l of r.sqlLimit) t.push([`plain SQL, ${l.connections} connections`, l.transactions, l.seconds, l.transactionsPerSecond, 1, '', '', '', '', '']);
  console.log(table(t));
  const single = r.throughput.find((d) => d.workers === 1 && d.redis === 'single' && d.label.startsWith('1 worker'));
  const cluster = r.throughput.find((d) => d.redis === 'cluster');
  if (single && cluster) {
    const percent = Math.round((cluster.deploymentsPerSecond / single.deploymentsPerSecond) * 100);
    console.log(`\nOne worker process: ${cluster.deploymentsPerSecond}/s on the Redis Cluster (3 masters, 3 replicas), ${single.deploymentsPerSecond}/s on the single Redis (${percent}%)`);
  }
  console.log(`\nRows per deployment, by table: service (1 worker) / SQL loop${r.writes.same ? ' (same)' : ' (DIFFERENT: keep bench/sql-limit.ts in step)'}`);
  console.log(r.writes.tables.map((w) => `  ${w.table} ${w.service} / ${w.sqlLoop}`).join('\n'));

  if (r.subscriptions) {
    console.log(`\nIdle subscriptions (${r.subscriptions.subscriptionsPerSocket} per socket; API RSS before: ${r.subscriptions.baselineApiRssMiB} MiB)`);
    const s: (string | number)[][] = [['subscriptions', 'sockets', 'open s', 'RSS MiB', 'peak MiB', 'idle API CPU %', 'dropped']];
    for (const l of r.subscriptions.levels) s.push([l.subscriptions, l.sockets, l.openSeconds, l.apiRssMiB, l.apiPeakRssMiB, l.idleApiCpuPercent, l.droppedSockets]);
    console.log(table(s));
  }

  printTargets(r.targets);
}

export function printTargets(targets: Target[]): void {
  console.log('\nTargets');
  console.log(table([['', 'target', 'measured', ''], ...targets.map((x) => [x.name, x.target, x.measured, x.met ? 'met' : 'MISSED'])]));
}

export async function writeResults(r: { startedAt: string }, dir: URL): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = new URL(`${r.startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`, dir);
  await writeFile(file, `${JSON.stringify(r, null, 2)}\n`);
  return file.pathname;
}
