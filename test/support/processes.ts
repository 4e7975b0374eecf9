// Service processes for tests that crash one: `node --import tsx src/main.ts <role>` with this
// test file's environment (its database and Redis prefix).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** With `stdout: 'pipe'`, the test reads the process's log lines (JSON) from `child.stdout`. */
export function spawnService(role: 'api' | 'worker' | 'all' | 'insights', env: Record<string, string> = {}, options: { stdout?: 'pipe' | 'ignore' } = {}): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', role], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', options.stdout ?? 'ignore', 'inherit'],
  });
  return child;
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
