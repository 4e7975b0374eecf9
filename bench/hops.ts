// Where one accept -> DEPLOYED spends its time, from the service's own spans: the bench receives
// the service's traces itself (an OTLP/HTTP JSON receiver on a free port: the service's standard
// OTEL_EXPORTER_OTLP_ENDPOINT), runs one-caller journeys, and lays each trace out from the start
// of its accept request: for every span name, when it starts and how long it lasts (medians over
// the traces). One trace covers the accept, its job, the apply, the publish and the stream's send
// (the job and the message carry the trace context). Tracing costs time itself: these journeys
// run on a service of their own, apart from the side-by-side rounds.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { median } from './stats.ts';

interface ReceivedSpan {
  traceId: string;
  name: string;
  startMs: number;
  endMs: number;
}

export interface HopRow {
  span: string;
  /** Traces that had the span. */
  traces: number;
  /** Median start, ms after the accept request's span started. */
  startsAtMs: number;
  /** Median of the span's total duration per trace (all its occurrences). */
  durationMs: number;
  /** Median occurrences per trace. */
  perTrace: number;
}

export interface HopGap {
  /** Between the end of one span and the start of the next: time no span of the trace accounts for. */
  gap: string;
  traces: number;
  medianMs: number;
}

export interface HopTable {
  /** Traces laid out (those with the accept's request span). */
  traces: number;
  rows: HopRow[];
  /** The waits between hops, each measured within a trace (medians over the traces that had both spans). */
  gaps: HopGap[];
}

/**
 * [name, span `from`, its edge, span `to`]: from the start or end of `from` to the start of the
 * first `to` that starts after `from` started. Negative when `to` began before `from` ended (a
 * job picked up before the accept's answer was written out).
 */
const GAPS: [string, string, 'start' | 'end', string][] = [
  ['accept answered -> job picked up (queue wait)', 'credit-api: POST /graphql', 'end', ' process'],
  ['job picked up -> apply transaction begins (batch wait)', ' process', 'start', 'credit-worker: prisma:client:transaction'],
  ['commit -> publish', 'credit-worker: prisma:client:commit_transaction', 'end', 'credit-worker: redis publish deployment'],
  ['publish -> first stream message sent', 'credit-worker: redis publish deployment', 'end', 'credit-api: deployment stream message'],
];

const nanosToMs = (value: unknown): number => {
  if (typeof value === 'string' || typeof value === 'number') return Number(BigInt(value) / 1000n) / 1000;
  const { low, high } = value as { low: number; high: number };
  return Number(((BigInt(high >>> 0) << 32n) | BigInt(low >>> 0)) / 1000n) / 1000;
};

export interface SpanReceiver {
  endpoint: string;
  spans: ReceivedSpan[];
  close(): void;
}

/** An OTLP/HTTP (JSON) trace receiver. */
export async function receiveSpans(): Promise<SpanReceiver> {
  const spans: ReceivedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const rs of body.resourceSpans ?? []) {
          // Which process: the service names itself by role (api, worker).
          const attributes: { key: string; value: { stringValue?: string } }[] = rs.resource?.attributes ?? [];
          const process = attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({ traceId: String(s.traceId), name: `${process}: ${String(s.name)}`, startMs: nanosToMs(s.startTimeUnixNano), endMs: nanosToMs(s.endTimeUnixNano) });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, close: () => server.close() };
}

/** The waterfall of the traces that start with an accept request (`POST /graphql` carrying a job). */
export function hopTable(spans: ReceivedSpan[]): HopTable {
  const byTrace = new Map<string, ReceivedSpan[]>();
  for (const s of spans) byTrace.set(s.traceId, [...(byTrace.get(s.traceId) ?? []), s]);
  const perName = new Map<string, { starts: number[]; durations: number[]; counts: number[] }>();
  const gaps = new Map<string, number[]>(GAPS.map(([name]) => [name, []]));
  let traces = 0;
  for (const trace of byTrace.values()) {
    const root = trace.find((s) => s.name.endsWith(': POST /graphql'));
    // Only the accepts' traces: their job's span is in them (an offer's issue has none).
    if (!root || !trace.some((s) => s.name.endsWith(' process'))) continue;
    traces += 1;
    const matches = (s: ReceivedSpan, name: string) => s.name === name || s.name.endsWith(name);
    for (const [name, from, edge, to] of GAPS) {
      const a = trace.find((s) => matches(s, from));
      const b = a && trace.filter((s) => matches(s, to) && s !== a && s.startMs >= a.startMs).sort((x, y) => x.startMs - y.startMs)[0];
      if (a && b) gaps.get(name)!.push(b.startMs - (edge === 'end' ? a.endMs : a.startMs));
    }
    const names = new Map<string, ReceivedSpan[]>();
    for (const s of trace) names.set(s.name, [...(names.get(s.name) ?? []), s]);
    for (const [name, list] of names) {
      const row = perName.get(name) ?? { starts: [], durations: [], counts: [] };
      row.starts.push(Math.min(...list.map((s) => s.startMs)) - root.startMs);
      row.durations.push(list.reduce((sum, s) => sum + (s.endMs - s.startMs), 0));
      row.counts.push(list.length);
      perName.set(name, row);
    }
  }
  const r2 = (x: number) => Math.round(x * 100) / 100;
  const rows = [...perName.entries()]
    .map(([span, v]) => ({ span, traces: v.starts.length, startsAtMs: r2(median(v.starts)), durationMs: r2(median(v.durations)), perTrace: median(v.counts) }))
    .sort((a, b) => a.startsAtMs - b.startsAtMs);
  const gapRows = [...gaps.entries()].filter(([, v]) => v.length > 0).map(([gap, v]) => ({ gap, traces: v.length, medianMs: r2(median(v)) }));
  return { traces, rows, gaps: gapRows };
}
