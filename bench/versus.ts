// Side by side with the design this service replaces (`npm run bench -- --versus=URL`): the same
// workload against both, in alternating rounds (service, peer, then peer, service, ...), so that
// the machine's drift falls on both sides. Per round and side:
//   - acceptOffer at 1 caller, and accept -> applied as the app sees it (this service: its
//     WebSocket already open, subscribing once the accept answered; the peer: its status polled
//     every 5 ms); one journey at a time, a fresh offer for the same user before each (not timed);
//   - acceptOffer at 8 callers (closed loop, workers running), then wait until all are applied;
//   - a backlog of N accepted at 32 callers, workers running: first accept sent to last applied
//     (the side's own timestamp), acceptOffer p50/p99 at 32 callers, and the CPU per deployment
//     of every process of the side (API, worker, PostgreSQL backends, Redis or RabbitMQ).
// Each figure of a side is the median of its rounds; the ratios (service / peer) are the targets.
import { availableParallelism } from 'node:os';
import { sleep } from './parallel.ts';
import { machineBusySeconds } from './proc.ts';
import { median, since, summarize, type LatencySummary } from './stats.ts';
import { cpuBetween, cpuSnapshot, unionOf, type Offer, type Side } from './versus-sides.ts';

export interface VersusSizes {
  /** Journeys at 1 caller (accept and accept -> applied). */
  oneCaller: number;
  /** Accepts at 8 callers. */
  eightCallers: number;
  /** The backlog accepted at 32 callers. */
  backlog: number;
  /** Rounds per side, alternating. */
  rounds: number;
}

export interface VersusRound {
  side: Side['name'];
  round: number;
  acceptOneMs: LatencySummary;
  acceptToAppliedMs: LatencySummary;
  acceptEightMs: LatencySummary;
  acceptThirtyTwoMs: LatencySummary;
  /** Backlog: first accept sent to last applied. */
  deploymentsPerSecond: number;
  /** CPU of every process of the side over the backlog, per deployment. */
  cpuMsPerDeployment: number;
  /** The same by part of the side (api, worker, postgres, redis / broker, ...). */
  cpuMsPerDeploymentByPart: Record<string, number>;
  /** The bench's own CPU over the backlog, per deployment (the load generator). */
  generatorCpuMsPerDeployment: number;
  /** Share of the whole machine busy during the backlog (anything running included). */
  machineBusyPercent: number;
}

export interface VersusSideSummary {
  side: Side['name'];
  label: string;
  acceptOneP50: number;
  acceptToAppliedP50: number;
  acceptToAppliedP99: number;
  acceptEightP50: number;
  acceptThirtyTwoP50: number;
  acceptThirtyTwoP99: number;
  deploymentsPerSecond: number;
  cpuMsPerDeployment: number;
}

export interface VersusResult {
  sizes: VersusSizes;
  rounds: VersusRound[];
  service: VersusSideSummary;
  peer: VersusSideSummary;
  /** This service / the peer, per figure (medians of the rounds). */
  ratios: Record<string, number>;
}

const APPLY_TIMEOUT_MS = 180_000;

export async function untilAllApplied(side: Side, offers: Offer[]): Promise<Date> {
  const deadline = Date.now() + APPLY_TIMEOUT_MS;
  for (;;) {
    const { count, last } = await side.applied(offers);
    if (count === offers.length) return last!;
    if (Date.now() > deadline) throw new Error(`${side.name}: ${offers.length - count} of ${offers.length} not applied within ${APPLY_TIMEOUT_MS / 1000} s`);
    await sleep(20);
  }
}

/** `callers` closed-loop callers accepting `offers` (each accepted once), timing each accept. */
export async function acceptAll(side: Side, offers: Offer[], callers: number): Promise<number[]> {
  const samples: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < offers.length) {
        const offer = offers[next++]!;
        const start = performance.now();
        await side.accept(offer);
        samples.push(since(start));
      }
    }),
  );
  return samples;
}

/** One user, one journey at a time: accept, then watch until applied as the app does. */
export async function oneCallerJourneys(side: Side, journeys: number): Promise<{ accept: number[]; applied: number[] }> {
  const user = await side.newUser('one');
  const watcher = await side.watcher(user);
  const accept: number[] = [];
  const applied: number[] = [];
  try {
    for (let i = 0; i < journeys; i++) {
      const offer = await side.offerFor(user);
      const start = performance.now();
      const handle = await side.accept(offer);
      accept.push(since(start));
      await side.untilApplied(watcher, handle);
      applied.push(since(start));
    }
  } finally {
    await watcher.close();
  }
  return { accept, applied };
}

async function backlog(side: Side, size: number) {
  const offers = await side.offers(size, 'b');
  const partsBefore = await side.processes();
  const cpuBefore = await cpuSnapshot(partsBefore);
  const busyBefore = await machineBusySeconds();
  const ownBefore = process.cpuUsage();
  const firstSent = new Date();
  const started = performance.now();
  const accept = await acceptAll(side, offers, 32);
  const last = await untilAllApplied(side, offers);
  const seconds = since(started) / 1000;
  const cpuAfter = await cpuSnapshot(unionOf(partsBefore, await side.processes()));
  const byPart = cpuBetween(cpuBefore, cpuAfter);
  const perDeployment = (spent: number) => round((spent / size) * 1000, 2);
  const own = process.cpuUsage(ownBefore);
  const busy = (await machineBusySeconds()) - busyBefore;
  const drainSeconds = Math.max(0.001, (last.getTime() - firstSent.getTime()) / 1000);
  return {
    accept,
    deploymentsPerSecond: round(size / drainSeconds, 1),
    cpuMsPerDeployment: perDeployment(Object.values(byPart).reduce((a, b) => a + b, 0)),
    cpuMsPerDeploymentByPart: Object.fromEntries(Object.entries(byPart).map(([part, spent]) => [part, perDeployment(spent)])),
    generatorCpuMsPerDeployment: round((own.user + own.system) / 1000 / size, 2),
    machineBusyPercent: Math.round((busy / (seconds * availableParallelism())) * 100),
  };
}

async function oneRound(side: Side, round: number, sizes: VersusSizes, log: (m: string) => void): Promise<VersusRound> {
  log(`versus: ${side.name} round ${round}: 1 caller, ${sizes.oneCaller} journeys`);
  const one = await oneCallerJourneys(side, sizes.oneCaller);
  log(`versus: ${side.name} round ${round}: 8 callers, ${sizes.eightCallers} accepts`);
  const eightOffers = await side.offers(sizes.eightCallers, 'e');
  const eight = await acceptAll(side, eightOffers, 8);
  await untilAllApplied(side, eightOffers);
  log(`versus: ${side.name} round ${round}: backlog of ${sizes.backlog} at 32 callers`);
  const b = await backlog(side, sizes.backlog);
  return {
    side: side.name,
    round,
    acceptOneMs: summarize(one.accept),
    acceptToAppliedMs: summarize(one.applied),
    acceptEightMs: summarize(eight),
    acceptThirtyTwoMs: summarize(b.accept),
    deploymentsPerSecond: b.deploymentsPerSecond,
    cpuMsPerDeployment: b.cpuMsPerDeployment,
    cpuMsPerDeploymentByPart: b.cpuMsPerDeploymentByPart,
    generatorCpuMsPerDeployment: b.generatorCpuMsPerDeployment,
    machineBusyPercent: b.machineBusyPercent,
  };
}

function summarizeSide(side: Side, rounds: VersusRound[]): VersusSideSummary {
  const mine = rounds.filter((r) => r.side === side.name);
  const med = (pick: (r: VersusRound) => number) => median(mine.map(pick));
  return {
    side: side.name,
    label: side.label,
    acceptOneP50: med((r) => r.acceptOneMs.p50),
    acceptToAppliedP50: med((r) => r.acceptToAppliedMs.p50),
    acceptToAppliedP99: med((r) => r.acceptToAppliedMs.p99),
    acceptEightP50: med((r) => r.acceptEightMs.p50),
    acceptThirtyTwoP50: med((r) => r.acceptThirtyTwoMs.p50),
    acceptThirtyTwoP99: med((r) => r.acceptThirtyTwoMs.p99),
    deploymentsPerSecond: med((r) => r.deploymentsPerSecond),
    cpuMsPerDeployment: med((r) => r.cpuMsPerDeployment),
  };
}

export async function runVersus(service: Side, peer: Side, sizes: VersusSizes, log: (m: string) => void): Promise<VersusResult> {
  // Warm-up, thrown away: JIT, pools, the peer's imports.
  for (const side of [service, peer]) {
    log(`versus: warming up ${side.name}`);
    const offers = await side.offers(64, 'w');
    await acceptAll(side, offers, 8);
    await untilAllApplied(side, offers);
  }
  const rounds: VersusRound[] = [];
  for (let round = 1; round <= sizes.rounds; round++) {
    const order = round % 2 === 1 ? [service, peer] : [peer, service];
    for (const side of order) rounds.push(await oneRound(side, round, sizes, log));
  }
  const s = summarizeSide(service, rounds);
  const p = summarizeSide(peer, rounds);
  const ratio = (a: number, b: number) => round(a / b, 2);
  return {
    sizes,
    rounds,
    service: s,
    peer: p,
    ratios: {
      acceptOneP50: ratio(s.acceptOneP50, p.acceptOneP50),
      acceptToAppliedP50: ratio(s.acceptToAppliedP50, p.acceptToAppliedP50),
      acceptToAppliedP99: ratio(s.acceptToAppliedP99, p.acceptToAppliedP99),
      acceptEightP50: ratio(s.acceptEightP50, p.acceptEightP50),
      acceptThirtyTwoP99: ratio(s.acceptThirtyTwoP99, p.acceptThirtyTwoP99),
      deploymentsPerSecond: ratio(s.deploymentsPerSecond, p.deploymentsPerSecond),
      cpuMsPerDeployment: ratio(s.cpuMsPerDeployment, p.cpuMsPerDeployment),
    },
  };
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
