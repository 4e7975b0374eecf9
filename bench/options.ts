// What a run measures and how much of it: the defaults fit in 10 minutes on a 2-core machine,
// --quick in under one. Settings of the service itself come from src/platform/config.ts, as in production.
import { databasePoolSize, loadConfig } from '../src/platform/config.ts';

const config = loadConfig();

export interface BenchOptions {
  quick: boolean;
  /** Concurrent users for the accept and accept -> DEPLOYED figures. */
  userLevels: number[];
  /** Journeys (issue, accept, watch until DEPLOYED) per level, all users together. */
  journeys: Record<number, number>;
  /** Journeys run and thrown away first, so JIT warm-up and pool filling are not measured. */
  warmupJourneys: number;
  /** Accepted offers drained by the worker(s) for the throughput figure. */
  backlog: number;
  /** Open idle subscriptions at which memory and latency are measured, ascending. */
  subscriptionLevels: number[];
  /** Subscriptions multiplexed over one graphql-ws connection (1 = one socket each, like phones). */
  subscriptionsPerSocket: number;
  /** accept -> DEPLOYED samples taken while the idle subscriptions are open. */
  activeSamples: number;
  /** How long the API is watched with only idle subscriptions open (CPU, commits). */
  idleWindowMs: number;
  /** LOG_LEVEL of the service's processes (production logs at info). */
  logLevel: string;
  /** Keep the database afterwards (for EXPLAIN and friends). */
  keepDatabase: boolean;
  /** Run the service's processes with --cpu-prof (profiles in bench/results/<timestamp>-profiles/). */
  cpuProfile: boolean;
  workerConcurrency: number;
  databasePoolSize: number;
  /** Latency rows (closed and open loop) are the median of this many runs. */
  repetitions: number;
  /** Offered accept rates of the open loop, per second. */
  openLoopRates: number[];
  /** Length of each open-loop window, seconds. */
  openLoopSeconds: number;
  /** Also run `npm start` as a newcomer does (drain and one-user latency beside the split processes). */
  newcomer: boolean;
  /** Edge on/off at one user: rounds per side (at least 5), interleaved on, off, on, off, ... */
  edgeRounds: number;
  /** Journeys (one user) in each edge round. */
  edgeJourneysPerRound: number;
  /** Also drain on a throwaway Redis Cluster (3 masters, 3 replicas), beside the single Redis drain. */
  cluster: boolean;
  /** The Celery design's API (its run.sh), for the side-by-side rows; null: those rows are skipped. */
  versusUrl: string | null;
  /** Its database on the same PostgreSQL (run.sh's DB_NAME). */
  versusDatabase: string;
  /** Side-by-side sizes: journeys at 1 caller, accepts at 8, the backlog at 32, rounds per side. */
  versus: { oneCaller: number; eightCallers: number; backlog: number; rounds: number };
  /** Samples of each floor. */
  floorSamples: number;
  /** One-caller journeys traced for the per-hop table. */
  hopJourneys: number;
  /** Only the floors, the per-hop table and the side-by-side rows (a few minutes), not the rest. */
  versusOnly: boolean;
}

const FULL = {
  userLevels: [1, 8, 32],
  journeys: { 1: 300, 8: 800, 32: 1600 },
  warmupJourneys: 50,
  backlog: 2000,
  subscriptionLevels: [1000, 10_000],
  activeSamples: 200,
  idleWindowMs: 10_000,
  repetitions: 3,
  openLoopRates: [50, 100, 200, 400],
  openLoopSeconds: 10,
  edgeRounds: 7,
  edgeJourneysPerRound: 200,
  versus: { oneCaller: 200, eightCallers: 400, backlog: 800, rounds: 2 },
  floorSamples: 300,
  hopJourneys: 100,
};

const QUICK = {
  userLevels: [1, 8, 32],
  journeys: { 1: 30, 8: 64, 32: 128 },
  warmupJourneys: 16,
  backlog: 150,
  subscriptionLevels: [1000],
  activeSamples: 20,
  idleWindowMs: 3_000,
  repetitions: 1,
  openLoopRates: [50, 200],
  openLoopSeconds: 3,
  edgeRounds: 5,
  edgeJourneysPerRound: 20,
  versus: { oneCaller: 30, eightCallers: 64, backlog: 200, rounds: 2 },
  floorSamples: 50,
  hopJourneys: 20,
};

function flag(argv: string[], name: string): string | undefined {
  const prefix = `--${name}=`;
  return argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

function positive(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number, got '${value}'`);
  return n;
}

export const USAGE = `usage: npm run bench -- [--quick] [--backlog=N] [--subscriptions=1000,10000]
                      [--per-socket=N] [--log-level=info] [--keep-db] [--cpu-prof]
                      [--rates=50,100,200,400] [--window=10] [--repetitions=3] [--no-newcomer]
                      [--edge-rounds=7] [--edge-journeys=200] [--cluster]
                      [--versus=URL] [--versus-db=celerypeer] [--versus-rounds=2]
                      [--versus-backlog=800] [--only=versus]`;

/** Start-up is detected from the 'service started' line, an info entry: quieter levels would hide it. */
function logLevel(level: string): string {
  if (!['info', 'debug', 'trace'].includes(level)) throw new Error(`--log-level must be info, debug or trace, got '${level}'`);
  return level;
}

function versusUrl(value: string | undefined): string | null {
  if (value === undefined) return null;
  const url = new URL(value);
  if (!['127.0.0.1', 'localhost'].includes(url.hostname)) throw new Error(`--versus must be on this machine (its processes' CPU is read from /proc), got ${url.hostname}`);
  return url.origin;
}

function only(value: string | undefined): boolean {
  if (value === undefined) return false;
  if (value !== 'versus') throw new Error(`--only takes 'versus' (the floors, the per-hop table and the side-by-side rows), got '${value}'`);
  return true;
}

export function parseOptions(argv: string[]): BenchOptions {
  const known = /^--(quick|keep-db|cpu-prof|no-newcomer|cluster|help|(backlog|subscriptions|per-socket|log-level|rates|window|repetitions|edge-rounds|edge-journeys|versus|versus-db|versus-rounds|versus-backlog|only)=.*)$/;
  const unknown = argv.filter((a) => !known.test(a));
  if (unknown.length > 0 || argv.includes('--help')) throw new Error(`${unknown.length ? `unknown: ${unknown.join(' ')}\n` : ''}${USAGE}`);
  const quick = argv.includes('--quick');
  const base = quick ? QUICK : FULL;
  const subscriptions = flag(argv, 'subscriptions');
  const rates = flag(argv, 'rates');
  const backlog = positive(flag(argv, 'backlog'), 'backlog') ?? base.backlog;
  const edgeRounds = positive(flag(argv, 'edge-rounds'), 'edge-rounds') ?? base.edgeRounds;
  if (edgeRounds < 5) throw new Error(`--edge-rounds must be at least 5 (the edge's check is a median of at least 5), got ${edgeRounds}`);
  return {
    quick,
    ...base,
    backlog,
    subscriptionLevels: subscriptions
      ? subscriptions.split(',').map((s) => positive(s, 'subscriptions')!).sort((a, b) => a - b)
      : base.subscriptionLevels,
    subscriptionsPerSocket: positive(flag(argv, 'per-socket'), 'per-socket') ?? 1,
    logLevel: logLevel(flag(argv, 'log-level') ?? 'info'),
    keepDatabase: argv.includes('--keep-db'),
    cpuProfile: argv.includes('--cpu-prof'),
    repetitions: positive(flag(argv, 'repetitions'), 'repetitions') ?? base.repetitions,
    openLoopRates: rates ? rates.split(',').map((r) => positive(r, 'rates')!).sort((a, b) => a - b) : base.openLoopRates,
    openLoopSeconds: positive(flag(argv, 'window'), 'window') ?? base.openLoopSeconds,
    newcomer: !argv.includes('--no-newcomer'),
    edgeRounds,
    edgeJourneysPerRound: positive(flag(argv, 'edge-journeys'), 'edge-journeys') ?? base.edgeJourneysPerRound,
    cluster: argv.includes('--cluster'),
    versusUrl: versusUrl(flag(argv, 'versus')),
    versusDatabase: flag(argv, 'versus-db') ?? 'celerypeer',
    versus: {
      ...base.versus,
      rounds: positive(flag(argv, 'versus-rounds'), 'versus-rounds') ?? base.versus.rounds,
      backlog: positive(flag(argv, 'versus-backlog'), 'versus-backlog') ?? base.versus.backlog,
    },
    floorSamples: base.floorSamples,
    hopJourneys: base.hopJourneys,
    versusOnly: only(flag(argv, 'only')),
    workerConcurrency: config.WORKER_CONCURRENCY,
    databasePoolSize: databasePoolSize(config),
  };
}
