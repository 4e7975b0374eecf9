// `npm start` (main `all`): the API and the worker run as two processes under a supervisor, which
// restarts a child that dies and drains both on SIGTERM; their logs come out of its stdout.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { acceptOffer, issueOffer, waitForFinal } from './support/fixtures.ts';
import { processLogs, type LogEntry } from './support/logs.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const started = (role: string) => (e: LogEntry) => e.msg === 'service started' && e.role === role;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start: API and worker under one supervisor', () => {
  it('runs both as separate processes, restarts a killed worker, and drains both on SIGTERM', { timeout: 90_000 }, async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const supervisor = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'all'], {
      cwd: root,
      env: { ...process.env, PORT: String(port), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const log = processLogs(supervisor);
    const exited = new Promise<number | null>((resolve) => supervisor.once('exit', (code) => resolve(code)));
    try {
      await Promise.all([log.next(started('api')), log.next(started('worker'))]);
      const pidOf = (role: string) => log.entries.filter((e) => e.msg === 'child process started' && e.child === role).at(-1)!.pid as number;
      const [api, worker] = [pidOf('api'), pidOf('worker')];
      expect(new Set([supervisor.pid, api, worker]).size).toBe(3);

      // The worker process applies what the API process accepted.
      const first = await issueOffer(url);
      const firstDeployment = (await acceptOffer(url, first.offerId, first.userToken)).deployment.id as string;
      expect((await waitForFinal(url, firstDeployment, first.userToken)).status).toBe('DEPLOYED');

      // kill -9 the worker: the supervisor starts another, which applies the next accept.
      const restarted = log.next(started('worker'));
      process.kill(worker, 'SIGKILL');
      await restarted;
      const newWorker = pidOf('worker');
      expect(newWorker).not.toBe(worker);
      expect(alive(worker)).toBe(false);
      expect(pidOf('api')).toBe(api); // the API was left alone
      const second = await issueOffer(url);
      const secondDeployment = (await acceptOffer(url, second.offerId, second.userToken)).deployment.id as string;
      expect((await waitForFinal(url, secondDeployment, second.userToken)).status).toBe('DEPLOYED');

      // SIGTERM drains both children, then the supervisor exits 0.
      supervisor.kill('SIGTERM');
      expect(await exited).toBe(0);
      const stopped = log.entries.filter((e) => e.msg === 'child process stopped');
      expect(stopped.map((e) => [e.child, e.code]).sort()).toEqual([['api', 0], ['worker', 0]]);
      expect(log.entries.filter((e) => e.msg === 'service stopped').map((e) => e.role).sort()).toEqual(['api', 'worker']);
      expect([alive(api), alive(newWorker)]).toEqual([false, false]);
      await expect(fetch(`${url}/health`)).rejects.toThrow();
    } finally {
      if (supervisor.exitCode === null) supervisor.kill('SIGKILL');
    }
  });
});
