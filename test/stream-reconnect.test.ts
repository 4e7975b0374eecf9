// The API's Redis connection drops while a watched deployment completes: the messages published
// meanwhile are lost, yet the stream delivers every event once Redis is back, because a
// reconnection makes each stream re-read the audit trail. The API reaches Redis through a proxy
// that the test cuts; the worker, a separate process, keeps its own connection.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTcpProxy } from './support/tcp-proxy.ts';

const proxy = await startTcpProxy(6379);
process.env.REDIS_URL = proxy.url; // before any module of the service reads its configuration
const config = (await import('../src/platform/config.ts')).loadConfig();
const { prisma } = await import('../src/platform/db.ts');
const { serviceForTests } = await import('./support/service.ts');
const { wsSubscribe } = await import('./support/client.ts');
const { acceptOffer, issueOffer, waitForFinal } = await import('./support/fixtures.ts');
const { spawnService, stopGracefully } = await import('./support/processes.ts');
const { waitUntil } = await import('./support/wait.ts');

const STREAM = 'subscription W($id: ID!) { creditDeployment(id: $id, afterSequence: 0) { sequence type status } }';

afterAll(() => proxy.close());
const api = serviceForTests({ worker: false });
let worker: ReturnType<typeof spawnService>;
beforeAll(() => {
  worker = spawnService('worker', { REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_LOCK_TIMEOUT_MS: '60000' });
});
afterAll(() => stopGracefully(worker));

describe('a live stream whose API loses Redis for a while', () => {
  it('still delivers the events published during the outage, in order, once Redis is back', async () => {
    const url = api.url;
    const first = await issueOffer(url, { limitCents: 10_000 });
    await waitForFinal(url, (await acceptOffer(url, first.offerId, first.userToken)).deployment.id, first.userToken);

    // Keep the next deployment inside its transaction until the API has lost Redis.
    const blocker = new pg.Client({ connectionString: config.DATABASE_URL });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM credit_profiles WHERE user_id = $1 FOR UPDATE', [first.userId]);
    const second = await issueOffer(url, { userId: first.userId, limitCents: 20_000 });
    const { deployment } = await acceptOffer(url, second.offerId, first.userToken);

    const stream = wsSubscribe(url, STREAM, { id: deployment.id }, first.userToken);
    const seen: { sequence: number; type: string }[] = [];
    for (;;) {
      const update = (await stream.next()).value!.data!.creditDeployment;
      seen.push(update);
      if (update.type === 'PROCESSING_STARTED') break;
    }

    await proxy.cut();
    await blocker.query('ROLLBACK');
    await blocker.end();
    await waitUntil(
      async () => (await prisma.creditDeployment.findUniqueOrThrow({ where: { id: deployment.id } })).status === 'DEPLOYED',
      'the deployment to complete during the outage',
    );
    await proxy.restore();

    for await (const message of stream) seen.push(message.data!.creditDeployment);
    expect(seen.map((u) => u.sequence)).toEqual([1, 2, 3, 4]);
    expect(seen.at(-1)!.type).toBe('DEPLOYED');
  });
});
