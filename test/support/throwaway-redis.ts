// A Redis server of a test's own on a free port, without persistence: stopping it and starting
// it again loses every key, as a Redis restart without persistence (or a failover to an empty
// replica) does. The shared Redis of the other suites is never touched.
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './free-port.ts';
import { waitUntil } from './wait.ts';

export interface ThrowawayRedis {
  port: number;
  url: string;
  start(): Promise<void>;
  /** SIGKILL: every key is gone; clients see their connections dropped. */
  stop(): Promise<void>;
  /** Stop then start: up again on the same port, empty. */
  restart(): Promise<void>;
  /** Stops the server; safe to call twice. */
  destroy(): Promise<void>;
}

const servers = new Set<ChildProcess>();
process.once('exit', () => {
  for (const server of servers) server.kill('SIGKILL');
});

/** `args`: more redis-server options, e.g. ['--maxmemory-policy', 'allkeys-lru']. */
export async function startThrowawayRedis(args: string[] = []): Promise<ThrowawayRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server: ChildProcess | null = null;

  const answers = async () => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      client.disconnect();
    }
  };

  const redis: ThrowawayRedis = {
    port,
    url,
    async start() {
      // Already running: a second server on the same port would fail to bind, and the first would
      // be left running when the test ends (one was left behind per suite run that way).
      if (server && server.exitCode === null && server.signalCode === null) return;
      server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', ...args], {
        stdio: 'ignore',
      });
      servers.add(server);
      await waitUntil(answers, `the throwaway Redis on port ${port}`, 10_000);
    },
    async stop() {
      const running = server;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGKILL');
      });
      servers.delete(running);
      server = null;
    },
    async restart() {
      await redis.stop();
      await redis.start();
    },
    destroy: () => redis.stop(),
  };
  await redis.start();
  return redis;
}
