// TCP proxies on 127.0.0.1 that count what a client sends, to see what one operation costs in
// round trips: Postgres (frontend protocol messages) and Redis (RESP commands). Only the
// client-to-server direction is parsed; bytes pass through unchanged both ways.
import net from 'node:net';

export interface Counts {
  /** Postgres: Sync + simple Query messages (each waits for the server); Redis: commands. */
  total: number;
  /** By statement (Postgres: the SQL, shortened) or by command and key shape (Redis). */
  by: Record<string, number>;
}

export interface CountingProxy {
  port: number;
  snapshot(): Counts;
  close(): Promise<void>;
}

type Parser = (chunk: Buffer, count: (label: string, roundTrip: boolean) => void) => void;

function startProxy(targetPort: number, makeParser: () => Parser): Promise<CountingProxy> {
  const counts: Counts = { total: 0, by: {} };
  const count = (label: string, roundTrip: boolean) => {
    if (roundTrip) counts.total += 1;
    if (label) counts.by[label] = (counts.by[label] ?? 0) + 1;
  };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const parse = makeParser();
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => (client.destroy(), upstream.destroy(), sockets.delete(s)));
    }
    client.on('data', (chunk: Buffer) => {
      parse(chunk, count);
      upstream.write(chunk);
    });
    upstream.pipe(client);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        snapshot: () => ({ total: counts.total, by: { ...counts.by } }),
        close: () => new Promise<void>((done) => (sockets.forEach((s) => s.destroy()), server.close(() => done()))),
      });
    });
  });
}

const sqlLabel = (sql: string) => sql.replace(/\s+/g, ' ').replace(/"public"\./g, '').trim().slice(0, 100);

/** Postgres frontend messages: a startup packet, then [type byte, int32 length, body]. */
function postgresParser(): Parser {
  let pending = Buffer.alloc(0);
  let started = false;
  return (chunk, count) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (!started) {
        if (pending.length < 4 || pending.length < pending.readInt32BE(0)) return;
        pending = pending.subarray(pending.readInt32BE(0));
        started = true;
        continue;
      }
      if (pending.length < 5 || pending.length < 1 + pending.readInt32BE(1)) return;
      const type = String.fromCharCode(pending[0]!);
      const body = pending.subarray(5, 1 + pending.readInt32BE(1));
      const text = (from: number) => body.subarray(from, body.indexOf(0, from)).toString('utf8');
      if (type === 'Q') count(sqlLabel(text(0)), true);
      if (type === 'P') count(sqlLabel(text(body.indexOf(0) + 1)), false);
      if (type === 'S') count('', true);
      pending = pending.subarray(1 + pending.readInt32BE(1));
    }
  };
}

/** Redis requests: RESP arrays of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`). */
function redisParser(prefix: string): Parser {
  let pending = Buffer.alloc(0);
  return (chunk, count) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      const parsed = readArray(pending);
      if (!parsed) return;
      pending = pending.subarray(parsed.length);
      count(redisLabel(parsed.args, prefix), true);
    }
  };
}

function readArray(buf: Buffer): { args: string[]; length: number } | null {
  let at = buf.indexOf('\r\n');
  if (buf[0] !== 0x2a || at < 0) return null; // '*'
  const n = Number(buf.subarray(1, at).toString());
  let offset = at + 2;
  const args: string[] = [];
  for (let i = 0; i < n; i++) {
    at = buf.indexOf('\r\n', offset);
    if (at < 0) return null;
    const size = Number(buf.subarray(offset + 1, at).toString());
    if (buf.length < at + 2 + size + 2) return null;
    args.push(buf.subarray(at + 2, at + 2 + size).toString('utf8'));
    offset = at + 2 + size + 2;
  }
  return { args, length: offset };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** The command and the shape of its first key under our prefix, ids replaced: "EVALSHA credit-deployments:wait". */
function redisLabel(args: string[], prefix: string): string {
  const command = (args[0] ?? '').toUpperCase();
  const key = args.find((a) => a.startsWith(`${prefix}:`));
  const shape = key?.slice(prefix.length + 1).replace(UUID, ':id').replace(/bench-[\w-]+/g, ':user');
  return shape ? `${command} ${shape}` : command;
}

export const startPostgresCounter = (port: number) => startProxy(port, postgresParser);
export const startRedisCounter = (port: number, prefix: string) => startProxy(port, () => redisParser(prefix));

/** What happened between two snapshots, per operation. */
export function perOperation(before: Counts, after: Counts, operations: number): Counts {
  const by: Record<string, number> = {};
  for (const [label, n] of Object.entries(after.by)) {
    const d = (n - (before.by[label] ?? 0)) / operations;
    if (d > 0) by[label] = Math.round(d * 100) / 100;
  }
  return { total: Math.round(((after.total - before.total) / operations) * 100) / 100, by };
}
