// A throwaway Redis server of the test's own, on a free port: tests that flush or stop Redis
// never touch the machine's shared one.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';
import { waitUntil } from './wait.ts';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startRedisServer() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
  admin.on('error', () => {}); // refused until the server listens: the ping below waits for it
  await waitUntil(() => admin.ping().then((pong) => pong === 'PONG', () => false), `redis-server on ${port}`, 10_000);
  return {
    url,
    /** Loses every key, as a Redis without persistence does when it restarts. */
    flushAll: () => admin.flushall(),
    async stop() {
      admin.disconnect();
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    },
  };
}
