// SIGTERM drains an API process: open subscriptions end, connections close, the process exits 0.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { wsSubscribe } from './support/client.ts';
import { acceptOffer, issueOffer } from './support/fixtures.ts';
import { spawnService, stopGracefully } from './support/processes.ts';
import { waitUntil } from './support/wait.ts';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const STREAM = 'subscription W($id: ID!) { creditDeployment(id: $id) { sequence type status } }';

describe('SIGTERM to an API process', () => {
  it('ends its open subscriptions and exits 0', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const api = spawnService('api', { PORT: String(port) });
    const url = `http://127.0.0.1:${port}`;
    await waitUntil(async () => (await fetch(`${url}/health`).catch(() => null))?.ok, 'the API to listen');

    // No worker runs: the deployment stays QUEUED and its stream stays open.
    const { offerId, userToken } = await issueOffer(url);
    const { deployment } = await acceptOffer(url, offerId, userToken);
    const stream = wsSubscribe(url, STREAM, { id: deployment.id }, userToken);
    expect((await stream.next()).value?.data?.creditDeployment).toMatchObject({ sequence: 1, status: 'QUEUED' });

    const ending = stream.next().then(
      (result) => (result.done ? 'completed' : 'message'),
      () => 'closed by the server',
    );
    const exitCode = await stopGracefully(api);
    expect(exitCode).toBe(0);
    expect(await ending).not.toBe('message');
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});
