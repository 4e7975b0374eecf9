// `NODE_ENV=development node --import tsx bench/one-user-cpu.ts [iterations]`: what one user's
// issue -> accept -> DEPLOYED (watched on an open WebSocket) costs in CPU, per process: the
// production build's API and worker on a fresh database, the loop run serially (after 20 of
// warm-up), each process's CPU read from /proc before and after. With BENCH_API_CPU_PROF_DIR set,
// the API writes a V8 CPU profile there. Not part of `npm run bench`: a probe for the per-request
// cost that the batched figures (the drain) amortize away.
import { fileURLToPath } from 'node:url';
import { acceptOffer, engineToken, issueOffer, newUser, openSocket, untilDeployed } from './api-client.ts';
import { buildProduction, startService } from './children.ts';
import { createBenchDatabase, dropBenchDatabase } from './database.ts';
import { cpuSeconds, machineBusySeconds } from './proc.ts';
import { removeRedisKeys } from './redis-keys.ts';

const iterations = Number(process.argv[2] ?? 300);
const run = `cpu${Date.now()}`;
const database = `credit_bench_${run}`;
const prefix = `bench-${run}`;
const logFile = (role: string) => fileURLToPath(new URL(`./results/${run}-${role}.log`, import.meta.url));
const log = (message: string) => console.error(`[bench one-user-cpu] ${message}`);

buildProduction(log);
const url = await createBenchDatabase(database);
// info: the bench waits for each process's 'service started' line.
const env = { DATABASE_URL: url, REDIS_PREFIX: prefix, LOG_LEVEL: 'info', RATE_LIMIT_USER_MUTATIONS_PER_MINUTE: '1000000' };
const profileDir = process.env.BENCH_API_CPU_PROF_DIR;
const api = await startService('api', env, logFile('api'), profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
const worker = await startService('worker', env, logFile('worker'));
try {
  const engine = await engineToken();
  const user = await newUser('one-user-cpu');
  const socket = await openSocket(api.url!, user.token);
  const once = async () => untilDeployed(socket, await acceptOffer(api.url!, user, await issueOffer(api.url!, engine, user.id)));
  for (let i = 0; i < 20; i += 1) await once();
  const read = async () => ({
    api: await cpuSeconds(api.pid),
    worker: await cpuSeconds(worker.pid),
    bench: await cpuSeconds(process.pid),
    machine: await machineBusySeconds(),
  });
  const before = await read();
  const started = performance.now();
  for (let i = 0; i < iterations; i += 1) await once();
  const wallMs = performance.now() - started;
  const after = await read();
  const perIteration = (key: keyof typeof before) => Math.round((100_000 * (after[key] - before[key])) / iterations) / 100;
  console.log(
    JSON.stringify({
      iterations,
      wallMsPerIteration: Math.round((100 * wallMs) / iterations) / 100,
      // CPU ms per iteration; the machine's includes PostgreSQL and Redis.
      cpuMsPerIteration: { api: perIteration('api'), worker: perIteration('worker'), bench: perIteration('bench'), machine: perIteration('machine') },
    }),
  );
  await socket.dispose();
} finally {
  await api.stop();
  await worker.stop();
  await removeRedisKeys(prefix);
  await dropBenchDatabase(database);
}
