// Redis connections, each set up for its role (see BullMQ's "going to production" guide), to a
// single Redis (the default) or to a Redis Cluster when cluster nodes are configured.
import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.ts';

type Role = 'producer' | 'worker' | 'subscriber' | 'publisher';

/** A connection to a single Redis or to a Redis Cluster: every user of Redis accepts both. */
export type RedisClient = Redis | Cluster;

const roleOptions: Record<Role, RedisOptions> = {
  // Enqueueing must fail fast when Redis is down: the accepted deployment is already in
  // Postgres and the reconciler enqueues it later; a request must not hang on an offline queue.
  producer: { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
  // BullMQ workers block on Redis and must retry forever.
  worker: { maxRetriesPerRequest: null },
  // ioredis 5 can lose a SUBSCRIBE sent while the connection is still being set up (CLIENT
  // SETINFO in flight; ioredis#2037). Skipping client info avoids that window.
  subscriber: { maxRetriesPerRequest: null, disableClientInfo: true },
  publisher: { maxRetriesPerRequest: 2 },
};

/** Where a process's Redis is, and where its connection errors are logged. */
export interface RedisSettings {
  url: string;
  /** Seed nodes of a Redis Cluster; when set, `url` is not used. */
  clusterNodes?: readonly ClusterNode[];
  logger: Logger;
}

/** Whether these settings are a Redis Cluster's: keys that one script or queue touches together need a shared hash tag. */
export const isCluster = (settings: Pick<RedisSettings, 'clusterNodes'>): boolean => (settings.clusterNodes?.length ?? 0) > 0;

/**
 * The nodes of REDIS_CLUSTER_NODES ("host:port,host:port"); the cluster's other nodes are
 * discovered from them.
 */
export function parseClusterNodes(text: string): ClusterNode[] {
  return text
    .split(',')
    .map((node) => node.trim())
    .filter(Boolean)
    .map((node) => {
      const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(node);
      if (!match || Number(match[2]) > 65535) throw new Error(`"${node}" is not host:port`);
      return { host: match[1]!, port: Number(match[2]) };
    });
}

/**
 * A Cluster's subscriber connection is made by ioredis itself (ClusterSubscriber), with none of
 * our options: after a failover it re-subscribes while CLIENT SETINFO is in flight, and the
 * ready check then fails with "Connection in subscriber mode" (ioredis#2037, fixed only in 6.0):
 * the connection is dropped and another node chosen, losing the messages meanwhile. Without
 * client info the handshake leaves no such window (the workaround the maintainers give); the
 * info is only a label in CLIENT LIST.
 */
function withoutClientInfoByDefault() {
  (Redis as unknown as { defaultOptions: RedisOptions }).defaultOptions.disableClientInfo = true;
}

function connect(role: Role, { url, clusterNodes }: RedisSettings): RedisClient {
  const options: RedisOptions = { ...roleOptions[role], connectionName: `credit-${role}` };
  if (!clusterNodes?.length) return new Redis(url, options);
  if (role === 'subscriber') withoutClientInfoByDefault();
  const { enableOfflineQueue, ...nodeOptions } = options;
  return new Cluster([...clusterNodes], {
    redisOptions: nodeOptions,
    enableOfflineQueue: enableOfflineQueue ?? true,
    // While a master fails over (cluster-node-timeout plus the election), commands to its slots
    // are retried rather than failed at once; a producer still fails fast when the cluster is down.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 200,
    // New masters are learnt within this even when no command ran into them.
    slotsRefreshInterval: 2_000,
  });
}

export function createRedis(role: Role, settings: RedisSettings): RedisClient {
  const redis = connect(role, settings);
  redis.on('error', (error) => settings.logger.warn({ err: error, role }, 'redis connection error'));
  return redis;
}

/** Closes a connection, whether or not Redis is still reachable. */
export async function closeRedis(redis: RedisClient): Promise<void> {
  if (redis.status === 'end') return;
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}

/**
 * The server's maxmemory-policy, or null when it cannot be read (Redis down, CONFIG disabled as
 * on some managed services). BullMQ needs `noeviction`: an evicted job key is a lost job.
 */
export async function evictionPolicy(redis: RedisClient): Promise<string | null> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    return reply[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * BullMQ's keys must never be evicted (an evicted job is a lost deployment): any other
 * maxmemory-policy stops a production start and is warned about elsewhere, with the fix.
 * A Redis that does not answer within 2 s (or hides CONFIG) is not waited for: warned about.
 */
export async function checkEvictionPolicy(settings: RedisSettings, production: boolean): Promise<void> {
  const { logger } = settings;
  const redis = createRedis('publisher', settings);
  try {
    const policy = await Promise.race([evictionPolicy(redis), new Promise<null>((resolve) => setTimeout(resolve, 2_000, null).unref())]);
    if (policy === 'noeviction') return;
    if (policy === null) {
      logger.warn('could not read the Redis maxmemory-policy; it must be noeviction, or queued jobs can be evicted and lost');
      return;
    }
    const message =
      `Redis maxmemory-policy is "${policy}": Redis may evict the queues' keys and lose jobs. ` +
      'Fix: CONFIG SET maxmemory-policy noeviction (and set it in redis.conf or the managed service\'s parameters).';
    if (production) throw new Error(message);
    logger.warn({ maxmemoryPolicy: policy }, message);
  } finally {
    await closeRedis(redis);
  }
}
