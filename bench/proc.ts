// What Linux says about a process and the machine (/proc): memory, CPU time.
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';

/** USER_HZ: 100 on every Linux build Node supports. */
const CLOCK_TICKS = 100;
const MiB = 1024 * 1024;

/** A /proc/<pid>/stat line's command name and CPU seconds (user + system). */
function parseStat(stat: string): { command: string; cpu: number } {
  // Fields 14 and 15 (utime, stime); the command name before them is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { command: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), cpu: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS };
}

/** CPU seconds (user + system) of a process so far; 0 once it is gone. */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    return parseStat(await readFile(`/proc/${pid}/stat`, 'utf8')).cpu;
  } catch {
    return 0;
  }
}

/** Resident memory now and at its peak (VmRSS, VmHWM), in MiB. */
export async function memoryMiB(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: Math.round((kb('VmRSS') * 1024) / MiB), peak: Math.round((kb('VmHWM') * 1024) / MiB) };
}

/** CPU seconds the whole machine spent busy (all cores, everything but idle and iowait) so far. */
export async function machineBusySeconds(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / CLOCK_TICKS;
}

/** Share of the whole machine (all cores) busy over `ms`, in percent: how quiet it was before a run. */
export async function machineBusyShare(ms = 5_000): Promise<number> {
  const before = await machineBusySeconds();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return Math.round((((await machineBusySeconds()) - before) / ((ms / 1000) * availableParallelism())) * 100);
}

/**
 * CPU seconds so far of each running process whose command name is one of `names` (e.g.
 * `postgres`: the server and its backends), by name and pid, in one pass over /proc. Compare two
 * readings with `cpuSpentSince`: a process that exits takes its CPU time with it.
 */
export async function cpuSecondsByPid(...names: string[]): Promise<Map<string, Map<number, number>>> {
  const byName = new Map(names.map((name) => [name, new Map<number, number>()]));
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const { command, cpu } = parseStat(await readFile(`/proc/${entry}/stat`, 'utf8'));
      byName.get(command)?.set(Number(entry), cpu);
    } catch {
      // gone meanwhile
    }
  }
  return byName;
}

/** CPU seconds spent between two readings of `cpuSecondsByPid` by the processes of the second (new ones: all of theirs). */
export function cpuSpentSince(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let spent = 0;
  for (const [pid, seconds] of after) spent += seconds - (before.get(pid) ?? 0);
  return spent;
}

/** `pid` and every process below it (npm start: npm, its shell, the supervisor and its children). */
export async function processTree(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(parents.get(tree[i]!) ?? []));
  return tree;
}
