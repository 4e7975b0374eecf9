// The side-by-side figures, the floors and the per-hop table: console tables and the targets.
import type { Floors } from './floors.ts';
import type { HopTable } from './hops.ts';
import type { Target } from './report.ts';
import type { VersusResult } from './versus.ts';

export interface VersusSection {
  floors: Floors | null;
  /** Null when no --versus=URL was given (the rows are skipped, and the run says so). */
  versus: VersusResult | null;
  versusSkipped: string | null;
  hops: HopTable | null;
}

function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => String(c ?? '').padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

const ms = (x: number) => `${x} ms`;
const times = (x: number) => `${x}x`;

export function versusTargets(s: VersusSection): Target[] {
  const targets: Target[] = [];
  const v = s.versus;
  if (v) {
    const r = v.ratios;
    targets.push(
      { name: 'acceptOffer p50, 1 caller, this service / the Celery design', target: '<= 0.35x', measured: `${times(r.acceptOneP50!)} (${v.service.acceptOneP50} / ${v.peer.acceptOneP50} ms)`, met: r.acceptOneP50! <= 0.35 },
      { name: 'accept -> applied as the app sees it, p50, ratio', target: '<= 0.5x', measured: `${times(r.acceptToAppliedP50!)} (${v.service.acceptToAppliedP50} / ${v.peer.acceptToAppliedP50} ms)`, met: r.acceptToAppliedP50! <= 0.5 },
      { name: 'accept -> applied as the app sees it, p99, ratio', target: '<= 0.5x', measured: `${times(r.acceptToAppliedP99!)} (${v.service.acceptToAppliedP99} / ${v.peer.acceptToAppliedP99} ms)`, met: r.acceptToAppliedP99! <= 0.5 },
      { name: 'accepted-and-applied deployments/s at 32 callers, ratio', target: '>= 5x', measured: `${times(r.deploymentsPerSecond!)} (${v.service.deploymentsPerSecond} / ${v.peer.deploymentsPerSecond} per s)`, met: r.deploymentsPerSecond! >= 5 },
      { name: 'CPU of all processes per deployment, ratio', target: '<= 0.33x', measured: `${times(r.cpuMsPerDeployment!)} (${v.service.cpuMsPerDeployment} / ${v.peer.cpuMsPerDeployment} ms)`, met: r.cpuMsPerDeployment! <= 0.33 },
    );
  }
  const f = s.floors;
  if (f) {
    const typename = Math.round((f.apiTypenameMs.p50 / f.bareHttpMs.p50) * 100) / 100;
    targets.push({ name: '{ __typename } p50 against a bare node:http answer', target: '<= 2x', measured: `${times(typename)} (${ms(f.apiTypenameMs.p50)} / ${ms(f.bareHttpMs.p50)})`, met: typename <= 2 });
    // The stack's own floor: graphql-yoga answering the same query with nothing of ours (older results lack it).
    if (f.bareYogaMs) {
      const yoga = Math.round((f.bareYogaMs.p50 / f.bareHttpMs.p50) * 100) / 100;
      const overYoga = Math.round((f.apiTypenameMs.p50 / f.bareYogaMs.p50) * 100) / 100;
      targets.push(
        { name: '(the stack) bare graphql-yoga p50 against a bare node:http answer', target: 'reported', measured: `${times(yoga)} (${ms(f.bareYogaMs.p50)} / ${ms(f.bareHttpMs.p50)})`, met: true },
        { name: '{ __typename } p50 against a bare graphql-yoga', target: '<= 1.5x', measured: `${times(overYoga)} (${ms(f.apiTypenameMs.p50)} / ${ms(f.bareYogaMs.p50)})`, met: overYoga <= 1.5 },
      );
    }
    if (v) {
      const sum = Math.round((f.bareHttpMs.p50 + f.acceptSqlMs.p50 + f.redisRoundTripMs.p50) * 100) / 100;
      const ratio = Math.round((v.service.acceptOneP50 / sum) * 100) / 100;
      targets.push({ name: 'acceptOffer p50, 1 caller, against its floors (HTTP + SQL + Redis)', target: '<= 2x', measured: `${times(ratio)} (${ms(v.service.acceptOneP50)} / ${ms(sum)})`, met: ratio <= 2 });
    }
  }
  return targets;
}

export function printVersus(s: VersusSection): void {
  if (s.floors) {
    const f = s.floors;
    console.log(`\nFloors (${f.samples} samples each, one at a time; ms)`);
    const rows: (string | number)[][] = [['', 'p50', 'p99']];
    const add = (name: string, x: { p50: number; p99: number }) => rows.push([name, x.p50, x.p99]);
    add('{ __typename } through the API', f.apiTypenameMs);
    add('bare node:http, same bytes, same client', f.bareHttpMs);
    if (f.bareYogaMs) add('bare graphql-yoga (one field, no plugins), same client', f.bareYogaMs);
    add("the accept's SQL (its 2 statements, pg)", f.acceptSqlMs);
    add('the enqueue: one Redis round trip', f.redisRoundTripMs);
    add("the apply's SQL (one deployment's transaction)", f.applySqlMs);
    add('graphql-ws message round trip (bare server)', f.graphqlWsRoundTripMs);
    console.log(table(rows));
  }
  if (s.versus) {
    const v = s.versus;
    console.log(`\nSide by side (${v.sizes.rounds} alternating rounds per side; medians of the rounds; ms unless said)`);
    const rows: (string | number)[][] = [['', 'this service', 'Celery design', 'ratio']];
    const add = (name: string, a: number, b: number, r: number | undefined) => rows.push([name, a, b, r === undefined ? '' : times(r)]);
    add('acceptOffer p50, 1 caller', v.service.acceptOneP50, v.peer.acceptOneP50, v.ratios.acceptOneP50);
    add('accept -> applied p50 (WebSocket vs 5 ms polling)', v.service.acceptToAppliedP50, v.peer.acceptToAppliedP50, v.ratios.acceptToAppliedP50);
    add('accept -> applied p99', v.service.acceptToAppliedP99, v.peer.acceptToAppliedP99, v.ratios.acceptToAppliedP99);
    add('acceptOffer p50, 8 callers', v.service.acceptEightP50, v.peer.acceptEightP50, v.ratios.acceptEightP50);
    add('acceptOffer p50, 32 callers (backlog)', v.service.acceptThirtyTwoP50, v.peer.acceptThirtyTwoP50, undefined);
    add('acceptOffer p99, 32 callers (backlog)', v.service.acceptThirtyTwoP99, v.peer.acceptThirtyTwoP99, v.ratios.acceptThirtyTwoP99);
    add(`deployments/s, ${v.sizes.backlog} accepted at 32 callers`, v.service.deploymentsPerSecond, v.peer.deploymentsPerSecond, v.ratios.deploymentsPerSecond);
    add('CPU ms per deployment, all processes', v.service.cpuMsPerDeployment, v.peer.cpuMsPerDeployment, v.ratios.cpuMsPerDeployment);
    console.log(table(rows));
    const r: (string | number)[][] = [['round', 'side', 'accept p50 1', 'applied p50', 'applied p99', 'accept p50 8', 'accept p99 32', 'dep/s', 'CPU ms/dep', 'generator ms/dep', 'machine busy']];
    for (const x of v.rounds) {
      r.push([x.round, x.side, x.acceptOneMs.p50, x.acceptToAppliedMs.p50, x.acceptToAppliedMs.p99, x.acceptEightMs.p50, x.acceptThirtyTwoMs.p99, x.deploymentsPerSecond, x.cpuMsPerDeployment, x.generatorCpuMsPerDeployment, `${x.machineBusyPercent}%`]);
    }
    console.log(table(r));
    const parts = [...new Set(v.rounds.flatMap((x) => Object.keys(x.cpuMsPerDeploymentByPart ?? {})))];
    if (parts.length > 0) {
      console.log('CPU ms per deployment over the backlog, by part');
      console.log(table([['round', 'side', ...parts], ...v.rounds.map((x) => [x.round, x.side, ...parts.map((p) => x.cpuMsPerDeploymentByPart?.[p] ?? '')])]));
    }
  } else if (s.versusSkipped) {
    console.log(`\nSide by side: ${s.versusSkipped}`);
  }
  if (s.hops) {
    console.log(`\nPer hop of one accept -> DEPLOYED, from the service's spans (${s.hops.traces} traces; ms from the accept request's start; medians)`);
    const rows: (string | number)[][] = [['span', 'traces', 'starts at', 'lasts', 'per trace']];
    for (const h of s.hops.rows) rows.push([h.span, h.traces, h.startsAtMs, h.durationMs, h.perTrace]);
    console.log(table(rows));
    console.log(table([['wait between hops (within each trace)', 'traces', 'median ms'], ...s.hops.gaps.map((g) => [g.gap, g.traces, g.medianMs])]));
  }
}
