// Two builds of the service against each other, by turns: both run at once (each its own API and
// worker, database and Redis prefix), and blocks of one-caller journeys (accept, then watch until
// applied, as figure 8's service side) go to one and then the other, the first of each pair
// alternating. What moves the machine from minute to minute then moves both alike, and a change
// worth a few percent shows in how many blocks it wins. Optionally, backlogs at 32 callers the
// same way (deployments/s).
//
//   npm run build; (cd ../other-checkout && npm run build)
//   NODE_ENV=development node --import tsx bench/by-turns.ts ../other-checkout . [--blocks=16] [--journeys=60] [--backlog=400]
//
// Each directory must hold a built checkout (dist/) with its own node_modules (a link will do)
// and generated code. The logs go to bench/results/by-turns-<ms>-<n>-<role>.log. Started and
// stopped as the other benches start the build (children.ts), from the other checkout.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startService } from './children.ts';
import { createBenchDatabase, dropBenchDatabase } from './database.ts';
import { EDGE_SETTINGS_FOR_BENCH } from './edge-limits.ts';
import { removeRedisKeys } from './redis-keys.ts';
import { median } from './stats.ts';
import { serviceSide, type Side } from './versus-sides.ts';
import { acceptAll, oneCallerJourneys, untilAllApplied } from './versus.ts';

const option = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const dirs = process.argv.slice(2).filter((a) => !a.startsWith('--')).map((d) => resolve(d));
if (dirs.length !== 2) throw new Error('usage: bench/by-turns.ts <checkout A> <checkout B> [--blocks=16] [--journeys=60] [--backlog=0]');
const blocks = option('blocks', 16);
const journeys = option('journeys', 60);
const backlog = option('backlog', 0);
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const runId = Date.now();

const cleanups: (() => Promise<unknown>)[] = [];

async function startSide(dir: string, n: number): Promise<Side> {
  const database = `credit_bench_turns_${runId}_${n}`;
  const prefix = `bench-turns-${runId}-${n}`;
  cleanups.push(() => removeRedisKeys(prefix), () => dropBenchDatabase(database));
  const url = await createBenchDatabase(database);
  const db = new pg.Pool({ connectionString: url, max: 4, application_name: 'bench' });
  cleanups.push(() => db.end());
  const env = { ...EDGE_SETTINGS_FOR_BENCH, DATABASE_URL: url, REDIS_PREFIX: prefix, LOG_LEVEL: 'info' };
  const api = await startService('api', env, `${RESULTS}by-turns-${runId}-${n}-api.log`, [], dir);
  cleanups.push(() => api.stop());
  const worker = await startService('worker', env, `${RESULTS}by-turns-${runId}-${n}-worker.log`, [], dir);
  cleanups.push(() => worker.stop());
  return serviceSide({ url: api.url!, servicePid: api.pid, db, database });
}

/** First accept sent to last applied, per second, for `size` offers accepted at 32 callers. */
async function backlogRate(side: Side, size: number): Promise<number> {
  const offers = await side.offers(size, 't');
  const started = Date.now();
  await acceptAll(side, offers, 32);
  return size / (((await untilAllApplied(side, offers)).getTime() - started) / 1000);
}

const r2 = (x: number) => x.toFixed(2);
try {
  const sides = [await startSide(dirs[0]!, 0), await startSide(dirs[1]!, 1)];
  for (const side of sides) await oneCallerJourneys(side, 150); // warm-up
  const accept: number[][] = [[], []];
  const applied: number[][] = [[], []];
  const rates: number[][] = [[], []];
  for (let block = 0; block < blocks; block++) {
    for (const i of block % 2 === 0 ? [0, 1] : [1, 0]) {
      const run = await oneCallerJourneys(sides[i]!, journeys);
      accept[i]!.push(median(run.accept));
      applied[i]!.push(median(run.applied));
      if (backlog > 0) rates[i]!.push(await backlogRate(sides[i]!, backlog));
    }
  }
  const wins = (figures: number[][], better: (a: number, b: number) => boolean) => figures[1]!.filter((b, k) => better(b, figures[0]![k]!)).length;
  console.log(`${blocks} blocks of ${journeys} one-caller journeys per build, by turns; medians of the blocks' p50s (ms)`);
  for (const [i, dir] of dirs.entries()) {
    const rate = backlog > 0 ? `, deployments/s ${median(rates[i]!).toFixed(1)} (backlogs of ${backlog} at 32 callers)` : '';
    console.log(`${i === 0 ? 'A' : 'B'} ${dir}: accept ${r2(median(accept[i]!))}, accept -> applied ${r2(median(applied[i]!))}${rate}`);
  }
  console.log(`B better than A in: accept ${wins(accept, (b, a) => b < a)}/${blocks}, applied ${wins(applied, (b, a) => b < a)}/${blocks}` +
    (backlog > 0 ? `, deployments/s ${wins(rates, (b, a) => b > a)}/${blocks}` : ''));
  for (const [name, figures] of [['accept', accept], ['applied', applied], ...(backlog > 0 ? [['dep/s', rates] as const] : [])] as const) {
    for (const [i, values] of figures.entries()) console.log(`  ${name} ${i === 0 ? 'A' : 'B'}: ${values.map((x) => x.toFixed(1)).join(' ')}`);
  }
} finally {
  // Services first (registered last), then their pools, databases and keys.
  for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => console.error(`clean-up: ${String(error)}`));
}
