// Traces: the API and the worker, as separate processes, export OTLP/HTTP to a receiver here.
// One accept, sent with a W3C traceparent, gives one trace whose spans, from both processes,
// cover the request, the deployment job, the apply's SQL, the Redis publish and the
// notification's delivery (its first step, taken with the deployment's batch), with the
// correlation id on them.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptOffer, issueOffer, waitForFinal } from './support/fixtures.ts';
import { OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.ts';
import { freePort, spawnService, stopGracefully } from './support/processes.ts';
import { waitUntil } from './support/wait.ts';

const receiver = new OtlpReceiver();
const processes: ReturnType<typeof spawnService>[] = [];
let url = '';

beforeAll(async () => {
  await receiver.start();
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' };
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  processes.push(spawnService('api', { ...otel, PORT: String(port) }));
  processes.push(spawnService('worker', otel));
  await waitUntil(() => fetch(`${url}/health`).then((r) => r.ok, () => false), 'the API process', 60_000);
}, 90_000);

afterAll(async () => {
  for (const child of processes) expect(await stopGracefully(child)).toBe(0);
  await receiver.close();
});

const named = (spans: ReceivedSpan[], pattern: RegExp) => spans.filter((span) => pattern.test(span.name));

describe('a trace from the accepting request to the delivery', () => {
  it('continues the client traceparent across the API and the worker, with the correlation id', { timeout: 120_000 }, async () => {
    const offer = await issueOffer(url);
    const traceId = randomBytes(16).toString('hex');
    const correlationId = `trace-test-${randomUUID()}`;
    const headers = { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`, 'x-request-id': correlationId };
    const accepted = await acceptOffer(url, offer.offerId, offer.userToken, headers);
    expect((await waitForFinal(url, accepted.deployment.id, offer.userToken, 60_000)).status).toBe('DEPLOYED');

    const expected = [/^POST \/graphql$/, /^credit-deployments process$/, /^prisma:client:db_query$/, /^redis publish deployment$/];
    // Prisma's statements, and the hot path's through pg (src/platform/db.ts, hotQuery).
    const sqlOf = (trace: ReceivedSpan[]) => named(trace, /^(prisma:client:db_query|pg .+)$/).map((span) => String(span.attributes['db.query.text']));
    const spans = await waitUntil(async () => {
      const trace = receiver.trace(traceId);
      // The notification's delivery recorded (push off here: a SKIPPED push) in the same trace.
      const delivered = sqlOf(trace).some((text) => /notification_deliveries/.test(text));
      return expected.every((pattern) => named(trace, pattern).length > 0) && delivered && trace;
    }, `spans of trace ${traceId}`, 30_000);

    const [request] = named(spans, /^POST \/graphql$/);
    expect(request).toMatchObject({ service: 'credit-api', attributes: { correlation_id: correlationId } });
    const jobs = named(spans, /process$/);
    expect(jobs.map((job) => job.service)).toEqual(jobs.map(() => 'credit-worker'));
    for (const job of jobs) expect(job.attributes.correlation_id).toBe(correlationId);
    expect(sqlOf(spans).some((text) => /UPDATE credit_profiles/.test(text))).toBe(true);
    expect(named(spans, /^redis publish deployment$/).every((span) => span.service === 'credit-worker')).toBe(true);
    // The request's phases, each a span of the API (the bench's per-hop table lays an accept out from them).
    const phases = ['graphql request parse', 'authenticate', 'graphql parse', 'graphql validate', 'rate limit', 'graphql execute', 'enqueue deployment', 'graphql serialize'];
    for (const phase of phases) expect(spans.filter((span) => span.name === phase).map((span) => span.service), phase).toEqual(['credit-api']);
    // Every span of the trace hangs from another of it, but the request: it hangs from the client's.
    const ids = new Set(spans.map((span) => span.spanId));
    expect(spans.filter((span) => !ids.has(span.parentSpanId)).map((span) => span.name)).toEqual(['POST /graphql']);
  });
});
