// A deployment's live stream sends the events a Redis message carries as they are when they
// follow the last one sent, and reloads from the audit trail when they do not: a message lost on
// the way (dropped here on purpose: an event committed and never published), a duplicate, or a
// message of a publisher that carries no events. Every sequence arrives once, in order.
// No worker runs: the test commits the events itself and publishes them as the worker does.
import { afterAll, describe, expect, it } from 'vitest';
import { prisma, type CreditDeploymentStatus } from '../src/platform/db.ts';
import { LiveUpdates } from '../src/realtime/live-updates.ts';
import { wsSubscribe } from './support/client.ts';
import { acceptOffer, issueOffer } from './support/fixtures.ts';
import { serviceForTests } from './support/service.ts';
import { testConfig, testRedis } from './support/settings.ts';

const api = serviceForTests({ worker: false });
const publisher = new LiveUpdates({ ...testRedis, prefix: testConfig.REDIS_PREFIX });
afterAll(() => publisher.close());

const STREAM = /* GraphQL */ `
  subscription Watch($id: ID!) { creditDeployment(id: $id) { sequence type status at } }
`;

type Message = { sequence: number; type: string; status: string; at: string };

function reader(stream: AsyncGenerator<any>) {
  return {
    next: async () => (await stream.next()).value.data.creditDeployment as Message,
    rest: async () => {
      const all: Message[] = [];
      for await (const m of stream) all.push(m.data.creditDeployment);
      return all;
    },
  };
}

async function queuedDeployment() {
  const { offerId, userToken } = await issueOffer(api.url);
  const accepted = await acceptOffer(api.url, offerId, userToken);
  return { deploymentId: accepted.deployment.id as string, userToken };
}

/** Commits an audit event as the worker would (the trail is what the stream falls back on). */
function commitEvent(deploymentId: string, sequence: number, type: string, status: CreditDeploymentStatus) {
  return prisma.deploymentEvent.create({ data: { deploymentId, sequence, type, status, correlationId: `stream-test-${sequence}` } });
}

/** The trail, as the messages should show it. */
async function trail(deploymentId: string): Promise<Message[]> {
  const events = await prisma.deploymentEvent.findMany({ where: { deploymentId }, orderBy: { sequence: 'asc' } });
  return events.map((e) => ({ sequence: e.sequence, type: e.type, status: e.status, at: e.at.toISOString() }));
}

describe('a deployment stream fed by messages that carry their events', () => {
  it('still delivers every sequence once, from the trail, when a message is dropped', async () => {
    const { deploymentId, userToken } = await queuedDeployment();
    const stream = reader(wsSubscribe(api.url, STREAM, { id: deploymentId }, userToken));
    expect(await stream.next()).toMatchObject({ sequence: 1, type: 'QUEUED' });

    const started = await commitEvent(deploymentId, 2, 'PROCESSING_STARTED', 'PROCESSING');
    await publisher.publishDeploymentEvents([started]);
    expect(await stream.next()).toMatchObject({ sequence: 2, type: 'PROCESSING_STARTED' });
    // The same message again (a second publisher, a retried publish): nothing is sent twice.
    await publisher.publishDeploymentEvents([started]);

    // Committed, and its message lost on the way: nothing is published for sequence 3.
    await commitEvent(deploymentId, 3, 'PROFILE_UPDATED', 'PROCESSING');
    const deployed = await commitEvent(deploymentId, 4, 'DEPLOYED', 'DEPLOYED');
    // The next message carries 4 alone: the stream sees the gap and reads 3 and 4 from the trail.
    await publisher.publishDeploymentEvents([deployed]);

    const rest = await stream.rest();
    expect([{ sequence: 1 }, { sequence: 2 }, ...rest].map((m) => m.sequence)).toEqual([1, 2, 3, 4]);
    expect(rest).toEqual((await trail(deploymentId)).slice(2));
  });

  it('sends the events a message carries exactly as the trail has them, several at once', async () => {
    const { deploymentId, userToken } = await queuedDeployment();
    const stream = reader(wsSubscribe(api.url, STREAM, { id: deploymentId }, userToken));
    expect(await stream.next()).toMatchObject({ sequence: 1 });

    // One commit of three events (as the batched apply), one message carrying them, out of order.
    const events = [
      await commitEvent(deploymentId, 4, 'DEPLOYED', 'DEPLOYED'),
      await commitEvent(deploymentId, 2, 'PROCESSING_STARTED', 'PROCESSING'),
      await commitEvent(deploymentId, 3, 'PROFILE_UPDATED', 'PROCESSING'),
    ];
    await publisher.publishDeploymentEvents(events);

    expect(await stream.rest()).toEqual((await trail(deploymentId)).slice(1));
  });

  it('reloads from the trail on a message that carries no events (a publisher of before)', async () => {
    const { deploymentId, userToken } = await queuedDeployment();
    const stream = reader(wsSubscribe(api.url, STREAM, { id: deploymentId }, userToken));
    expect(await stream.next()).toMatchObject({ sequence: 1 });

    await commitEvent(deploymentId, 2, 'PROCESSING_STARTED', 'PROCESSING');
    await commitEvent(deploymentId, 3, 'DEPLOYED', 'DEPLOYED');
    await publisher.publish('deployment', deploymentId, { deploymentId, sequence: 3, type: 'DEPLOYED', status: 'DEPLOYED' });

    expect(await stream.rest()).toEqual((await trail(deploymentId)).slice(1));
  });
});
