// Traces (OpenTelemetry). Off by default, and free when off: the SDK is not even loaded, and the
// spans made through this module are the API's no-op ones. On when an OTLP endpoint is set
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); the SDK reads the other
// standard OTEL_* variables itself (service name, headers, batch delays, sampler).
import { context, propagation, SpanKind, SpanStatusCode, trace, type Context, type Link, type Span } from '@opentelemetry/api';

export { SpanKind };

const tracer = trace.getTracer('credit-deployment-service');

/** Whether this process exports traces (startTracing registered the SDK). */
let exporting = false;
export const tracingStarted = (): boolean => exporting;

export interface TracingSettings {
  OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string | undefined;
  OTEL_SDK_DISABLED?: boolean | undefined;
  OTEL_SERVICE_NAME?: string | undefined;
}

export interface Tracing {
  /** Sends the spans still buffered, then stops. */
  shutdown(): Promise<void>;
}

export function tracingEnabled(settings: TracingSettings): boolean {
  return !settings.OTEL_SDK_DISABLED && Boolean(settings.OTEL_EXPORTER_OTLP_ENDPOINT || settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Starts the OpenTelemetry trace SDK (OTLP over HTTP, batched) when configured; null when tracing
 * is off. The trace SDK alone, not @opentelemetry/sdk-node: that one loads every exporter
 * (gRPC, logs, metrics) and took 5 to 8 s to import here; this takes about one.
 */
export async function startTracing(settings: TracingSettings, defaultServiceName: string): Promise<Tracing | null> {
  if (!tracingEnabled(settings)) return null;
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, { PrismaInstrumentation }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@prisma/instrumentation'),
  ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.OTEL_SERVICE_NAME ?? defaultServiceName }),
    // The exporter and the batching read the standard OTEL_EXPORTER_OTLP_* and OTEL_BSP_* variables.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // The global tracer provider, AsyncLocalStorage context and W3C trace context propagation.
  provider.register();
  exporting = true;
  // Prisma's own spans: each query's SQL (db_query), inside the operation and its transaction.
  const prismaSpans = new PrismaInstrumentation();
  prismaSpans.enable();
  return {
    async shutdown() {
      exporting = false;
      prismaSpans.disable();
      await provider.shutdown();
    },
  };
}

/** W3C trace context (traceparent, tracestate) as a carrier. */
export type TraceCarrier = Record<string, string>;

/** The active trace context, to travel with a job or a message; undefined when there is none. */
export function traceCarrier(): TraceCarrier | undefined {
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

/** The context a carrier (job data, message, request headers) brought; the active one without. */
export function contextFrom(carrier: TraceCarrier | undefined | null): Context {
  return carrier ? propagation.extract(context.active(), carrier) : context.active();
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Record<string, string | number | boolean | undefined | null>;
  /** The parent; by default the active context. */
  parent?: Context;
  links?: Link[];
}

const cleanAttributes = (attributes: SpanOptions['attributes'] = {}) =>
  Object.fromEntries(Object.entries(attributes).filter(([, v]) => v !== undefined && v !== null)) as Record<string, string | number | boolean>;

/**
 * Runs `work` in a new span, which records a thrown error and ends when `work` settles: at once
 * when it returns a value, when its promise settles when it returns one (the phases a library's
 * instrumentation wraps are synchronous or not). The span is the active one inside `work`, unless
 * `options.activate` is false: for a phase whose spans inside belong to the request, not to the
 * phase (GraphQL's context building annotates the request's span).
 */
export function inSpan<T>(name: string, options: SpanOptions & { activate?: boolean }, work: (span: Span) => T): T {
  const spanOptions = { kind: options.kind ?? SpanKind.INTERNAL, attributes: cleanAttributes(options.attributes), links: options.links ?? [] };
  const parent = options.parent ?? context.active();
  const run = (span: Span): T => {
    const failed = (error: unknown) => {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      span.end();
      throw error;
    };
    let result: T;
    try {
      result = work(span);
    } catch (error) {
      return failed(error);
    }
    if (typeof (result as { then?: unknown } | null)?.then !== 'function') {
      span.end();
      return result;
    }
    return (result as PromiseLike<unknown>).then((value) => {
      span.end();
      return value;
    }, failed) as T;
  };
  if (options.activate === false) return run(tracer.startSpan(name, spanOptions, parent));
  return tracer.startActiveSpan(name, spanOptions, parent, run);
}

/** Starts a span that the caller ends (one whose end is an event, e.g. a response finishing). */
export function startSpan(name: string, options: SpanOptions): { span: Span; context: Context } {
  const parent = options.parent ?? context.active();
  const span = tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: cleanAttributes(options.attributes) }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Sets an attribute on the active span, if any (e.g. the correlation id once it is known). */
export function annotateActiveSpan(attributes: SpanOptions['attributes']) {
  trace.getActiveSpan()?.setAttributes(cleanAttributes(attributes));
}

export { context as traceContext };
