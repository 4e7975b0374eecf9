// A Redis Cluster of its own, for a test or the bench (`npm run bench -- --cluster`): three
// masters and three replicas from the machine's `redis-server`, on free ports, created by
// `redis-cli --cluster create`. The scale suite kills a master of it; the shared Redis of the
// other suites is never touched.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.ts';
import { waitUntil } from './wait.ts';

export interface ClusterNodeProcess {
  port: number;
  process: ChildProcess;
}

export interface ThrowawayRedisCluster {
  /** "host:port,..." of every node, for REDIS_CLUSTER_NODES. */
  nodes: string;
  /** The node that is master of the slot of `key` right now, asked of a live node. */
  masterOf(key: string): Promise<ClusterNodeProcess>;
  /** SIGKILL of a node, as a crashed host would lose it. */
  kill(node: ClusterNodeProcess): Promise<void>;
  /** Waits until a live node other than `dead` is master of the slot of `key` and the cluster is ok. */
  waitForPromotion(key: string, dead: ClusterNodeProcess, timeoutMs?: number): Promise<ClusterNodeProcess>;
  destroy(): Promise<void>;
}

/** Failure detection takes this long: at least 3 s, so a slow reply is not taken for a dead node. */
export const NODE_TIMEOUT_MS = 3_000;

// Whatever ends the process (a failure, the bench's Ctrl-C while a cluster is still starting),
// its servers and their directories do not outlive it.
const children = new Set<ChildProcess>();
const dirs = new Set<string>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function ask<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T | null> {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  return redis
    .connect()
    .then(() => fn(redis))
    .catch(() => null)
    .finally(() => redis.disconnect());
}

const alive = (node: ClusterNodeProcess) => node.process.exitCode === null && node.process.signalCode === null;

// One node on free ports. A port the OS called free can be taken by another suite before the
// server binds it (the suites start servers side by side): the server then exits at once, and
// the node is started again on other ports.
async function startNode(dir: string): Promise<ClusterNodeProcess> {
  for (let attempt = 1; ; attempt += 1) {
    const [port, busPort] = [await freePort(), await freePort()];
    // prettier-ignore
    const child = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
      '--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-config-file', `nodes-${port}.conf`,
      '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
      // A replica takes over however long it was cut off; and the other masters keep serving
      // their slots while one fails over (as a production cluster should be set up: docs/scaling.md).
      '--cluster-replica-validity-factor', '0', '--cluster-require-full-coverage', 'no',
      '--maxmemory-policy', 'noeviction',
    ], { stdio: 'ignore' });
    children.add(child);
    const node = { port, process: child };
    const up = await waitUntil(
      async () => (!alive(node) ? 'exited' : (await ask(port, async (r) => (await r.ping()) === 'PONG')) ? 'up' : null),
      `redis node ${port}`,
      30_000,
    );
    if (up === 'up') return node;
    children.delete(child);
    if (attempt === 5) throw new Error(`redis-server exited at start five times (last ports ${port}, ${busPort})`);
  }
}

export async function startThrowawayRedisCluster(): Promise<ThrowawayRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'credit-scale-redis-'));
  dirs.add(dir);
  const nodes: ClusterNodeProcess[] = [];
  for (let i = 0; i < 6; i += 1) nodes.push(await startNode(dir));
  const create = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], {
    encoding: 'utf8',
  });
  if (create.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`);
  // Every node sees the whole cluster ok, and every replica is in sync with its master.
  const ready = async () => {
    for (const { port } of nodes) {
      const ok = await ask(port, async (r) => {
        const info = await r.cluster('INFO');
        const replication = await r.info('replication');
        return /cluster_state:ok/.test(info) && /cluster_known_nodes:6/.test(info) && !/master_link_status:down/.test(replication);
      });
      if (!ok) return false;
    }
    return true;
  };
  await waitUntil(ready, 'the throwaway Redis Cluster to be ok', 30_000);

  const live = () => nodes.filter(alive);
  const masterPortOf = async (key: string) => {
    for (const node of live()) {
      const port = await ask(node.port, async (r) => {
        const slot = Number(await r.cluster('KEYSLOT', key));
        const range = (await r.cluster('SLOTS')).find(([from, to]) => slot >= from && slot <= to);
        return range?.[2]?.[1] ?? null;
      });
      if (port) return port;
    }
    return null;
  };

  return {
    nodes: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    async masterOf(key) {
      const port = await masterPortOf(key);
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`no master found for ${key}`);
      return node;
    },
    async kill(node) {
      if (!alive(node)) return;
      await new Promise<void>((resolve) => {
        node.process.once('exit', () => resolve());
        node.process.kill('SIGKILL');
      });
    },
    async waitForPromotion(key, dead, timeoutMs = 30_000) {
      const promoted = await waitUntil(
        async () => {
          const port = await masterPortOf(key);
          if (!port || port === dead.port) return null;
          const ok = await ask(port, async (r) => /cluster_state:ok/.test(await r.cluster('INFO')));
          return ok ? nodes.find((n) => n.port === port) : null;
        },
        `a replica to take over ${key}'s slot`,
        timeoutMs,
      );
      return promoted;
    },
    async destroy() {
      await Promise.all(
        nodes.map(
          (node) =>
            new Promise<void>((resolve) => {
              if (!alive(node)) return resolve();
              node.process.once('exit', () => resolve());
              node.process.kill('SIGKILL');
            }),
        ),
      );
      for (const node of nodes) children.delete(node.process);
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };
}
