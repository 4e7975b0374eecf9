// Service processes for tests that crash one: `node --import tsx src/main.ts <role>` (or a worker
// that pushes to a fake FCM) with this test file's environment (its database and Redis prefix).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** With `stdout: 'pipe'`, the test reads the process's log lines (JSON) from `child.stdout`. */
export function spawnService(role: 'api' | 'worker' | 'all' | 'insights', env: Record<string, string> = {}, options: SpawnOptions = {}): ChildProcess {
  return spawnEntry(['src/main.ts', role], env, options);
}

/** A worker process (the service's own code) whose pushes go to a test's fake FCM on `fcmPort` (test/support/push-worker.ts). */
export function spawnPushWorker(fcmPort: number, env: Record<string, string> = {}, options: SpawnOptions = {}): ChildProcess {
  return spawnEntry(['test/support/push-worker.ts'], { ...env, FAKE_FCM_PORT: String(fcmPort) }, options);
}

interface SpawnOptions {
  stdout?: 'pipe' | 'ignore';
}

function spawnEntry(args: string[], env: Record<string, string>, options: SpawnOptions): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: root,
    // Two test files run at once against one PostgreSQL (100 connections), each with its own
    // process and up to two spawned ones: a spawned process's pool is 12 connections unless the
    // test says otherwise (the default, 2 x WORKER_CONCURRENCY + 10 = 42, ran the server out of
    // connections with two push-pacing files side by side; jobs wait for a pooled connection).
    env: { DATABASE_POOL_SIZE: '12', ...process.env, ...env },
    stdio: ['ignore', options.stdout ?? 'ignore', 'inherit'],
  });
}

export function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

export function stopGracefully(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

/** A TCP port free right now on 127.0.0.1 (for a process the test spawns). */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
