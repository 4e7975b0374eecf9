// The process's Prometheus registry, and makers of counters, gauges and histograms registered in
// it. Each metric is defined beside the code that updates it; this module knows none of them.
// Served by the admin server (never on the public port).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const metricsRegistry = new Registry();
// Event-loop lag, heap, GC, CPU, file descriptors: prom-client's defaults.
collectDefaultMetrics({ register: metricsRegistry });

interface MetricOptions<Label extends string> {
  name: string;
  help: string;
  labelNames?: readonly Label[];
}

export function counter<Label extends string = never>(options: MetricOptions<Label>): Counter<Label> {
  return new Counter({ ...options, labelNames: options.labelNames ?? [], registers: [metricsRegistry] });
}

export function gauge<Label extends string = never>(options: MetricOptions<Label> & { collect?: (this: Gauge<Label>) => void | Promise<void> }): Gauge<Label> {
  return new Gauge({ ...options, labelNames: options.labelNames ?? [], registers: [metricsRegistry] });
}

export function histogram<Label extends string = never>(options: MetricOptions<Label> & { buckets: number[] }): Histogram<Label> {
  return new Histogram({ ...options, labelNames: options.labelNames ?? [], registers: [metricsRegistry] });
}

/** The metrics in Prometheus' text format, with their content type. */
export async function scrape(): Promise<{ contentType: string; body: string }> {
  return { contentType: metricsRegistry.contentType, body: await metricsRegistry.metrics() };
}

/**
 * Refusals at the public edge (rate limits, document limits), by which limit refused. Counted
 * where the edge refuses: `rateLimitRefusals.inc({ limit: 'accept-offer-per-user' })`.
 */
export const rateLimitRefusals = counter({
  name: 'credit_rate_limit_refusals_total',
  help: 'Requests refused by a rate limit, by limit',
  labelNames: ['limit'],
});
