// What the public edge costs a user: one user's journeys against two API processes of
// the same build, one with the edge as in production (the bench's raised caps aside) and one
// started with its protections switched off, in interleaved rounds (on, off, on, off, ...) so
// that the machine's drift falls on both sides. Each side's figure is the median of its rounds.
import { runJourneys } from './journeys.ts';
import { median } from './stats.ts';

export interface EdgeRound {
  side: 'on' | 'off';
  /** 1-based; round i of "on" ran just before round i of "off". */
  round: number;
  journeys: number;
  acceptP50Ms: number;
  acceptP99Ms: number;
  acceptToDeployedP50Ms: number;
}

export interface EdgeFigure {
  name: 'acceptOffer p50' | 'acceptOffer p99' | 'accept -> DEPLOYED p50';
  /** Medians of the rounds. */
  onMs: number;
  offMs: number;
  /** on - off. */
  differenceMs: number;
  differencePercent: number;
  /** The most "on" may exceed "off" by: 10 % of off or 0.5 ms, whichever is larger. */
  allowedMs: number;
  met: boolean;
}

export interface EdgeCostResult {
  users: 1;
  roundsPerSide: number;
  journeysPerRound: number;
  rounds: EdgeRound[];
  figures: EdgeFigure[];
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** "Within 10 % or 0.5 ms of off": being faster with the edge on is within too. */
export function judgeEdgeFigure(name: EdgeFigure['name'], onMs: number, offMs: number): EdgeFigure {
  const differenceMs = round2(onMs - offMs);
  const allowedMs = round2(Math.max(0.1 * offMs, 0.5));
  return {
    name,
    onMs,
    offMs,
    differenceMs,
    differencePercent: offMs > 0 ? Math.round((differenceMs / offMs) * 1000) / 10 : 0,
    allowedMs,
    met: differenceMs <= allowedMs,
  };
}

export async function runEdgeRounds(options: {
  onUrl: string;
  offUrl: string;
  rounds: number;
  journeysPerRound: number;
  log: (message: string) => void;
}): Promise<EdgeCostResult> {
  const { onUrl, offUrl, rounds, journeysPerRound, log } = options;
  const results: EdgeRound[] = [];
  for (let i = 1; i <= rounds; i++) {
    for (const [side, url] of [['on', onUrl], ['off', offUrl]] as const) {
      log(`edge ${side}: 1 user, ${journeysPerRound} journeys (round ${i} of ${rounds})`);
      const r = await runJourneys(url, 1, journeysPerRound);
      results.push({
        side,
        round: i,
        journeys: r.journeys,
        acceptP50Ms: r.acceptMs.p50,
        acceptP99Ms: r.acceptMs.p99,
        acceptToDeployedP50Ms: r.acceptToDeployedMs.p50,
      });
    }
  }
  const of = (side: 'on' | 'off', pick: (r: EdgeRound) => number) => median(results.filter((r) => r.side === side).map(pick));
  const figure = (name: EdgeFigure['name'], pick: (r: EdgeRound) => number) => judgeEdgeFigure(name, of('on', pick), of('off', pick));
  return {
    users: 1,
    roundsPerSide: rounds,
    journeysPerRound,
    rounds: results,
    figures: [
      figure('acceptOffer p50', (r) => r.acceptP50Ms),
      figure('acceptOffer p99', (r) => r.acceptP99Ms),
      figure('accept -> DEPLOYED p50', (r) => r.acceptToDeployedP50Ms),
    ],
  };
}
