// The service under test, run as production runs it: `node --import tsx src/main.ts api|worker`,
// one OS process each, spawned directly (not through npx) so the pid we hold is node itself:
// /proc/<pid> is the process we measure, and a signal stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { sleep } from './parallel.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const STARTUP_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export interface ServiceProcess {
  role: 'api' | 'worker';
  pid: number;
  /** Base URL of the API; null for a worker. */
  url: string | null;
  stop(): Promise<void>;
}

/** Every process still running, so a failing run can still stop them all. */
const running = new Set<ChildProcess>();

/**
 * Starts a process and resolves once it logs 'service started' (after the API listens, or the
 * worker is wired). Its log goes straight to `logFile`, not through a pipe to this process: a
 * busy bench must not slow the service down by reading its log late (pino writes synchronously).
 */
export async function startService(
  role: 'api' | 'worker',
  env: Record<string, string>,
  logFile: string,
  nodeArgs: string[] = [],
): Promise<ServiceProcess> {
  const fd = openSync(logFile, 'a');
  const logStart = fstatSync(fd).size;
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/main.ts', role], {
    cwd: root,
    env: { ...process.env, ...env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  running.add(child);
  let exitCode: number | null | undefined;
  child.on('exit', (code) => {
    exitCode = code;
    running.delete(child);
  });
  const started = await waitForStart(logFile, logStart, () => exitCode !== undefined);
  if (!started) {
    child.kill('SIGKILL');
    throw new Error(`${role} ${exitCode === undefined ? `did not start within ${STARTUP_TIMEOUT_MS} ms` : `exited with ${exitCode}`}; see ${logFile}`);
  }
  const url = typeof started.url === 'string' ? started.url : null;
  return { role, pid: child.pid!, url, stop: () => stopChild(child, () => exitCode !== undefined) };
}

/** The 'service started' log entry (it carries the API's URL), or null when the process died first. */
async function waitForStart(logFile: string, from: number, hasExited: () => boolean): Promise<Record<string, unknown> | null> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline && !hasExited()) {
    const text = (await readFile(logFile)).subarray(from).toString('utf8');
    for (const line of text.split('\n')) {
      const entry = parseLine(line);
      if (entry?.msg === 'service started') return entry;
    }
    await sleep(50);
  }
  return null;
}

function parseLine(line: string): Record<string, unknown> | null {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** SIGTERM (the service drains), then SIGKILL if it takes too long. */
async function stopChild(child: ChildProcess, hasExited: () => boolean): Promise<void> {
  if (hasExited()) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Last resort on failure or Ctrl-C: kill whatever is left, by pid. */
export function killAllServices(): void {
  for (const child of running) child.kill('SIGKILL');
}
