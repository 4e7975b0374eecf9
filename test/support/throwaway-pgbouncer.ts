// A PgBouncer of a test's own, in transaction mode, in front of a (throwaway) PostgreSQL, from the
// machine's `pgbouncer` on a free port. PgBouncer refuses to run as root: as root it runs as
// the `postgres` user.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { answersQueries } from './throwaway-postgres.ts';
import { waitUntil } from './wait.ts';

export interface ThrowawayPgBouncer {
  port: number;
  /** The URL of `database` through PgBouncer. */
  url(database: string): string;
  destroy(): Promise<void>;
}

const asRoot = process.getuid?.() === 0;
const children = new Set<ChildProcess>();
// SIGTERM: runuser passes it on to pgbouncer (a SIGKILL would leave pgbouncer running).
process.once('exit', () => {
  for (const child of children) child.kill('SIGTERM');
});

export async function startThrowawayPgBouncer(serverPort: number, { poolSize = 40 } = {}): Promise<ThrowawayPgBouncer> {
  const dir = mkdtempSync(join(tmpdir(), 'credit-scale-pgbouncer-'));
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const port = await freePort();
  writeFileSync(join(dir, 'users.txt'), '"postgres" ""\n');
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=127.0.0.1 port=${serverPort}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 2000',
      `default_pool_size = ${poolSize}`,
      // What node-postgres sends at startup besides user and database; `options` is not here:
      // PgBouncer must refuse it, or session settings would silently be lost.
      'ignore_startup_parameters = extra_float_digits',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  );
  const [command, args] = asRoot
    ? ['runuser', ['-u', 'postgres', '--', 'pgbouncer', join(dir, 'pgbouncer.ini')]]
    : ['pgbouncer', [join(dir, 'pgbouncer.ini')]];
  const child = spawn(command, args, { stdio: 'ignore' });
  children.add(child);
  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  await waitUntil(
    () => answersQueries(url('postgres')),
    `PgBouncer on port ${port}`,
    10_000,
  );
  return {
    port,
    url,
    async destroy() {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          // runuser passes the signal on to pgbouncer.
          child.kill('SIGTERM');
        });
      }
      children.delete(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
