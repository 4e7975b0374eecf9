// What the service logs, captured for a test to read: from a logger in this process (the
// service's own, with its redaction, writing to memory) or from a spawned process's stdout.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Level } from 'pino';
import { createLogger } from '../../src/platform/logger.ts';

/** One log line, parsed: pino's `level`, `msg` and whatever the line carries. */
export type LogEntry = Record<string, unknown> & { msg?: string };

/** Log lines as written (`lines`) and parsed (`entries`), with a way to await the next matching one. */
export interface CapturedLogs {
  lines: string[];
  entries: LogEntry[];
  /** Every line written so far, as one text. */
  text(): string;
  /** The first entry from now on that matches. */
  next(match: (entry: LogEntry) => boolean): Promise<LogEntry>;
}

function collector() {
  const lines: string[] = [];
  const entries: LogEntry[] = [];
  const waiters: { match: (entry: LogEntry) => boolean; resolve: (entry: LogEntry) => void }[] = [];
  const logs: CapturedLogs = {
    lines,
    entries,
    text: () => lines.join(''),
    next: (match) => new Promise((resolve) => waiters.push({ match, resolve })),
  };
  const add = (line: string) => {
    lines.push(line);
    let entry: LogEntry;
    try {
      entry = JSON.parse(line) as LogEntry;
    } catch {
      return; // not a log line (a process may print other text)
    }
    entries.push(entry);
    for (const waiter of [...waiters]) {
      if (waiter.match(entry)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(entry);
      }
    }
  };
  return { logs, add };
}

/** The service's logger at `level`, writing to memory: pass `logger` to the service or to the code under test. */
export function captureLogs(level: Level = 'info') {
  const { logs, add } = collector();
  return { ...logs, logger: createLogger(level, { write: add }) };
}

/** The log of a process spawned with `stdout: 'pipe'`, line by line from now on. */
export function processLogs(child: ChildProcess): CapturedLogs {
  const { logs, add } = collector();
  // As written: one line per entry, each ending with a newline.
  createInterface({ input: child.stdout! }).on('line', (line) => add(`${line}\n`));
  return logs;
}
