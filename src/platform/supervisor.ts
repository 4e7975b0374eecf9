// `main.ts all` (what `npm start` runs): the API and the worker as two child processes of this
// one, so each gets a core of its own instead of sharing one event loop. The supervisor restarts
// a child that dies (with a growing delay while it keeps dying), drains both on SIGTERM/SIGINT,
// and the children write to its stdout and stderr: one log stream. It knows nothing of the
// service itself: it runs commands and watches processes.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';

export type ChildRole = 'api' | 'worker';

export interface SupervisorOptions {
  roles: readonly ChildRole[];
  /** The command line of a child: `node [its own flags] main.js <role>`. */
  command(role: ChildRole): { file: string; args: string[] };
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Delay before the first restart; it doubles while the child keeps dying, up to maxRestartDelayMs. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** A child that ran this long counts as healthy: its next restart waits restartDelayMs again. */
  healthyAfterMs?: number;
  /** SIGKILL a child still running this long after its SIGTERM (the service gives itself 30 s). */
  killAfterMs?: number;
}

export interface Supervisor {
  /** The children's pids now (a restarted child has a new one). */
  pids(): Partial<Record<ChildRole, number>>;
  /** SIGTERM to every child, then resolves with true once all of them exited 0. */
  stop(): Promise<boolean>;
}

interface Slot {
  role: ChildRole;
  child: ChildProcess | null;
  startedAt: number;
  delayMs: number;
  restartTimer: NodeJS.Timeout | null;
  exited: Promise<number | null> | null;
}

export function superviseService(options: SupervisorOptions): Supervisor {
  const { logger, roles, restartDelayMs = 500, maxRestartDelayMs = 30_000, healthyAfterMs = 60_000, killAfterMs = 40_000 } = options;
  let stopping = false;
  const slots = roles.map((role): Slot => ({ role, child: null, startedAt: 0, delayMs: restartDelayMs, restartTimer: null, exited: null }));

  function launch(slot: Slot): void {
    slot.restartTimer = null;
    const { file, args } = options.command(slot.role);
    // An IPC channel only so the child notices when the supervisor is gone (killed with -9) and drains.
    const child = spawn(file, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    slot.child = child;
    slot.startedAt = Date.now();
    slot.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        slot.child = null;
        resolve(code);
        if (!stopping) restartLater(slot, code, signal);
      });
    });
    child.once('error', (error) => logger.error({ child: slot.role, err: error }, 'could not start a child process'));
    logger.info({ child: slot.role, pid: child.pid }, 'child process started');
  }

  function restartLater(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    if (Date.now() - slot.startedAt >= healthyAfterMs) slot.delayMs = restartDelayMs;
    logger.error({ child: slot.role, code, signal, restartInMs: slot.delayMs }, 'child process exited; restarting it');
    slot.restartTimer = setTimeout(() => launch(slot), slot.delayMs);
    slot.delayMs = Math.min(maxRestartDelayMs, slot.delayMs * 2);
  }

  async function stopSlot(slot: Slot): Promise<boolean> {
    if (slot.restartTimer) clearTimeout(slot.restartTimer);
    slot.restartTimer = null;
    const child = slot.child;
    if (!child) return true; // not running: it was between restarts
    child.kill('SIGTERM');
    const kill = setTimeout(() => {
      logger.error({ child: slot.role, pid: child.pid }, 'child process did not drain in time; killing it');
      child.kill('SIGKILL');
    }, killAfterMs);
    const code = await slot.exited;
    clearTimeout(kill);
    logger.info({ child: slot.role, pid: child.pid, code }, 'child process stopped');
    return code === 0;
  }

  for (const slot of slots) launch(slot);

  return {
    pids: () => Object.fromEntries(slots.filter((s) => s.child?.pid).map((s) => [s.role, s.child!.pid])),
    async stop() {
      stopping = true;
      const results = await Promise.all(slots.map(stopSlot));
      return results.every(Boolean);
    },
  };
}
