// A PostgreSQL cluster of a test's own, from the machine's binaries, on a free port: the fault
// suites stop, restart and kill it without touching the shared server the other suites use.
// initdb, pg_ctl and postgres refuse to run as root, so as root they run as the `postgres` user.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from './free-port.ts';
import { waitUntil } from './wait.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bindir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL binary, as `postgres` when this process is root. */
function pgBinary(name: string, args: string[]) {
  const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bindir, name), ...args]] : [join(bindir, name), args];
  const run = spawnSync(command, argv, { encoding: 'utf8', cwd: tmpdir() });
  if (run.status !== 0) throw new Error(`${name} ${args.join(' ')} failed:\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

export type StopMode = 'smart' | 'fast' | 'immediate';

export interface ThrowawayPostgres {
  port: number;
  /** The URL of `database` on this cluster. */
  url(database?: string): string;
  /** Creates a database and applies the project's migrations with the real `prisma migrate deploy`. */
  createMigratedDatabase(name: string): Promise<string>;
  stop(mode?: StopMode): void;
  start(): Promise<void>;
  /** `pg_ctl restart -m fast`: clients see their connections closed, then the server back. */
  restart(mode?: StopMode): Promise<void>;
  /** SIGKILL to the postmaster, as a crashed host would do; `start` recovers it. */
  kill(): void;
  isRunning(): boolean;
  /** Stops the server and deletes its files; safe to call twice. */
  destroy(): void;
}

const clusters = new Set<ThrowawayPostgres>();
// Even when a test fails or the file is interrupted, no server is left behind.
process.once('exit', () => {
  for (const cluster of clusters) cluster.destroy();
});

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'credit-fault-pg-'));
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const data = join(dir, 'data');
  const port = await freePort();
  pgBinary('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  // Durability is not what is tested here: skip fsync to keep the machine's disks out of it.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`;
  const log = join(dir, 'server.log');
  let destroyed = false;

  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const accepting = () => answersQueries(url());

  const cluster: ThrowawayPostgres = {
    port,
    url,
    async createMigratedDatabase(name) {
      const run = spawnSync(process.execPath, ['scripts/prisma.mjs', 'migrate', 'deploy'], {
        cwd: root,
        env: { ...process.env, DATABASE_URL: url(name) },
        encoding: 'utf8',
      });
      if (run.status !== 0) throw new Error(`migrating ${name} failed:\n${run.stdout}\n${run.stderr}`);
      return url(name);
    },
    stop(mode = 'fast') {
      pgBinary('pg_ctl', ['stop', '-D', data, '-m', mode, '-w', '-t', '30']);
    },
    async start() {
      pgBinary('pg_ctl', ['start', '-D', data, '-l', log, '-o', options, '-w', '-t', '60']);
      await waitUntil(accepting, `the throwaway PostgreSQL on port ${port}`, 30_000);
    },
    async restart(mode = 'fast') {
      pgBinary('pg_ctl', ['restart', '-D', data, '-m', mode, '-l', log, '-o', options, '-w', '-t', '60']);
      await waitUntil(accepting, `the throwaway PostgreSQL on port ${port}`, 30_000);
    },
    kill() {
      // The postmaster and all its backends at once, as a crashed host would lose them.
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
      const all = [pid, ...children];
      for (const each of all) {
        try {
          process.kill(each, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      const alive = (each: number) => {
        try {
          process.kill(each, 0);
          return true;
        } catch {
          return false;
        }
      };
      const deadline = Date.now() + 10_000;
      while (all.some(alive) && Date.now() < deadline) spawnSync('sleep', ['0.05']);
    },
    isRunning() {
      const status = spawnSync('pg_isready', ['-h', '127.0.0.1', '-p', String(port), '-t', '1']);
      return status.status === 0 || status.status === 1;
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      clusters.delete(cluster);
      spawnSync(asRoot ? 'runuser' : join(bindir, 'pg_ctl'), [
        ...(asRoot ? ['-u', 'postgres', '--', join(bindir, 'pg_ctl')] : []),
        'stop', '-D', data, '-m', 'immediate', '-w', '-t', '10',
      ]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  clusters.add(cluster);
  await cluster.start();
  return cluster;
}

/** Whatever listens at `url` (PostgreSQL, or a PgBouncer in front of it) connects and answers a query. */
export async function answersQueries(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
