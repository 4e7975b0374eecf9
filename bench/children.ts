// The service under test, run as production runs it: the production build (`npm run build`),
// `node dist/src/main.js api|worker`, one OS process each, spawned directly (not through npm) so
// the pid we hold is node itself: /proc/<pid> is the process we measure, and a signal stops it.
// And `npm start` as a newcomer runs it (migrate, then the supervisor with its two children),
// stopped as Ctrl-C stops it: SIGINT to its process group.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { sleep } from './parallel.ts';

/** The project's directory: where the service's processes start. */
export const root = fileURLToPath(new URL('..', import.meta.url));
const STARTUP_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

/** `npm run build`: the benches measure the production build, so they build what is checked out. */
export function buildProduction(log: (message: string) => void): void {
  log('npm run build');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

export interface ServiceProcess {
  role: 'api' | 'worker' | 'one-process';
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
  role: 'api' | 'worker' | 'one-process',
  env: Record<string, string>,
  logFile: string,
  nodeArgs: string[] = [],
  /** The checkout whose build runs (another one's, to compare two builds: by-turns.ts). */
  cwd: string = root,
): Promise<ServiceProcess> {
  // 'one-process': API and worker in one process from source, as `npm start` ran before the supervisor.
  const entry = role === 'one-process' ? ['--import', 'tsx', 'bench/one-process.ts'] : ['dist/src/main.js', role];
  const fd = openSync(logFile, 'a');
  const logStart = fstatSync(fd).size;
  const child = spawn(process.execPath, [...nodeArgs, ...entry], {
    cwd,
    // Several services on one host: each admin server on a free port too.
    env: { ...process.env, API_ADMIN_PORT: '0', WORKER_ADMIN_PORT: '0', ...env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  running.add(child);
  let exitCode: number | null | undefined;
  child.on('exit', (code) => {
    exitCode = code;
    running.delete(child);
  });
  const [started] = await waitForStart(logFile, logStart, 1, () => exitCode !== undefined);
  if (!started) {
    child.kill('SIGKILL');
    throw new Error(`${role} ${exitCode === undefined ? `did not start within ${STARTUP_TIMEOUT_MS} ms` : `exited with ${exitCode}`}; see ${logFile}`);
  }
  const url = typeof started.url === 'string' ? started.url : null;
  return { role, pid: child.pid!, url, stop: () => stopChild(child, () => exitCode !== undefined) };
}

/** The first `count` 'service started' log entries (the API's carries its URL); [] when the process died first. */
async function waitForStart(logFile: string, from: number, count: number, hasExited: () => boolean): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline && !hasExited()) {
    const text = (await readFile(logFile)).subarray(from).toString('utf8');
    const started = text.split('\n').map(parseLine).filter((entry) => entry?.msg === 'service started');
    if (started.length >= count) return started.slice(0, count) as Record<string, unknown>[];
    await sleep(50);
  }
  return [];
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

export interface NewcomerService {
  /** The `npm start` process: the root of its process tree. */
  pid: number;
  url: string;
  /** From spawning `npm start` to both children having logged 'service started' (migration included). */
  startupMs: number;
  stop(): Promise<void>;
}

/**
 * `npm start` in its own process group, as a terminal runs it, with the service's settings in
 * its environment. Stopped as Ctrl-C stops it: SIGINT to the whole group.
 */
export function startNewcomer(env: Record<string, string>, logFile: string): Promise<NewcomerService> {
  return startGroup('npm', ['start'], env, logFile, 'npm start');
}

/**
 * The production build as one command, `node dist/src/main.js all` (the supervisor and its API and
 * worker children), stopped as `npm start` is. Its CPU is that of its whole process tree.
 */
export function startBuildAll(env: Record<string, string>, logFile: string): Promise<NewcomerService> {
  return startGroup(process.execPath, ['dist/src/main.js', 'all'], env, logFile, 'node dist/src/main.js all');
}

async function startGroup(command: string, args: string[], env: Record<string, string>, logFile: string, name: string): Promise<NewcomerService> {
  const fd = openSync(logFile, 'a');
  const logStart = fstatSync(fd).size;
  const began = performance.now();
  const child = spawn(command, args, {
    cwd: root,
    // Several services on one host: each admin server on a free port too.
    env: { ...process.env, API_ADMIN_PORT: '0', WORKER_ADMIN_PORT: '0', ...env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  running.add(child);
  groups.add(child.pid!);
  let exitCode: number | null | undefined;
  child.on('exit', (code) => {
    exitCode = code;
    running.delete(child);
  });
  const started = await waitForStart(logFile, logStart, 2, () => exitCode !== undefined);
  const url = started.map((entry) => entry.url).find((u): u is string => typeof u === 'string');
  if (!url) {
    killGroup(child.pid!, 'SIGKILL');
    throw new Error(`${name} ${exitCode === undefined ? `did not start within ${STARTUP_TIMEOUT_MS} ms` : `exited with ${exitCode}`}; see ${logFile}`);
  }
  const startupMs = Math.round(performance.now() - began);
  const stop = async () => {
    if (exitCode !== undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killGroup(child.pid!, 'SIGINT');
    const timer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), STOP_TIMEOUT_MS * 3);
    await exited;
    clearTimeout(timer);
    groups.delete(child.pid!);
  };
  return { pid: child.pid!, url, startupMs, stop };
}

/** Process groups started here (npm start's), so a failing run can still kill them all. */
const groups = new Set<number>();

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/** Last resort on failure or Ctrl-C: kill whatever is left, by pid (and npm start's group, by its id). */
export function killAllServices(): void {
  for (const child of running) child.kill('SIGKILL');
  for (const pgid of groups) killGroup(pgid, 'SIGKILL');
}
