// A worker killed with SIGKILL after a deployment's commit and before its relay published the
// event: the event is in the outbox, and the next relay (here in the test process, as a worker
// runs it; one process start less) publishes it, once.
import { afterAll, describe, expect, it } from 'vitest';
import { prisma } from '../src/platform/db.ts';
import { streamProbe } from './support/events.ts';
import { acceptOffer, issueOffer } from './support/fixtures.ts';
import { startOutboxRelay } from '../src/events/outbox-relay.ts';
import { eventStreamPublisher } from '../src/events/stream-publisher.ts';
import { eventStreamSettings } from '../src/settings.ts';
import { killHard, spawnService } from './support/processes.ts';
import { testConfig, testRedis } from './support/settings.ts';
import { serviceForTests } from './support/service.ts';
import { waitUntil } from './support/wait.ts';

// The API only: workers are separate processes, spawned and killed by the test.
const service = serviceForTests({ worker: false });
const stream = streamProbe();
afterAll(() => stream.close());

describe('kill -9 of a worker between the apply commit and the relay', () => {
  it('the event still arrives, once', { timeout: 180_000 }, async () => {
    // This worker's relay makes no pass for a minute.
    const first = spawnService('worker', { EVENTS_RELAY_INTERVAL_MS: '60000' });
    let relay: ReturnType<typeof startOutboxRelay> | null = null;
    try {
      const offer = await issueOffer(service.url, { limitCents: 42_000 });
      const accepted = await acceptOffer(service.url, offer.offerId, offer.userToken);
      const deploymentId = accepted.deployment.id as string;
      await waitUntil(
        async () => (await prisma.creditDeployment.findUnique({ where: { id: deploymentId } }))?.status === 'DEPLOYED',
        'the deployment applied (by a worker process starting on a loaded machine)',
        120_000,
      );
      const outbox = await prisma.outboxEvent.findMany({ where: { userId: offer.userId } });
      expect(outbox.map((row) => [row.type, row.sentAt])).toEqual([['credit.limit.changed', null]]);
      await killHard(first);
      expect(await stream.eventsOf(offer.userId)).toEqual([]);

      relay = startOutboxRelay(
        eventStreamPublisher(stream.redis, eventStreamSettings(testConfig)),
        { intervalMs: 20, housekeepingMs: 60_000 },
        testRedis.logger,
      );
      const events = await stream.settledEventsOf(offer.userId, 1);
      expect(events.map((e) => [e.event.id, e.event.data])).toEqual([[outbox[0]!.id, expect.objectContaining({ newLimitCents: '42000', deploymentId })]]);
    } finally {
      await killHard(first);
      await relay?.stop();
    }
  });
});
