// `npm run bench -- --campaign [--campaign-size=N] [--push-rate=N] [--fcm-quota=N]`: a campaign end
// to end against a fresh database and Redis prefix. Issues N offers through issueCreditOffers
// (batches of 1,000, 4 callers), expires them all at one instant with the service's sweep, and
// delivers their notifications (users absent: a push each, to a fake FCM with a scaled quota
// answering 429 above it). Each throughput figure is set against plain SQL doing the same writes
// in the same run (row counts checked). Writes bench/results/<timestamp>-campaign.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Job } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { tokenSigner } from '../src/api/auth.ts';
import { expireDueOffers } from '../src/domain/offer-expiry.ts';
import { closeQueue, createNotificationQueue, createOfferExpiryQueue } from '../src/jobs/queues.ts';
import { firstStepsOf } from '../src/jobs/expire-offers.ts';
import { enqueueFirstSteps } from '../src/jobs/producers.ts';
import { loadConfig, type Config } from '../src/platform/config.ts';
import { connectDatabase, prisma } from '../src/platform/db.ts';
import { databaseSettings } from '../src/settings.ts';
import { createLogger } from '../src/platform/logger.ts';
import { buildProduction, startService, type ServiceProcess } from './children.ts';
import { createBenchDatabase, dropBenchDatabase } from './database.ts';
import { QuotaFcm } from './fcm-quota.ts';
import { acceptOffer, engineToken, issueOffer, newUser, openSocket, untilDeployed } from './api-client.ts';
import { cpuSeconds, cpuSecondsByPid, cpuSpentSince, machineBusySeconds, memoryMiB } from './proc.ts';
import { since, summarize } from './stats.ts';
import { removeRedisKeys } from './redis-keys.ts';

const BATCH = 1_000;

/**
 * A worker's resident memory over the second pass's sweep, which runs in the worker that takes the
 * expiry job (as production runs it, beside its deployments and pushes): its RSS before the sweep,
 * and its peak during it, Linux's high-water mark (VmHWM) reset before the sweep through
 * /proc/<pid>/clear_refs; sampled every 50 ms instead for a process whose mark cannot be reset.
 * Until 2026-12-07 19:12 UTC the sweep ran in the bench's own process, beside the fake FCM
 * answering the pushes and the latency pass's client: its RSS ratio (1.39-1.70x) was theirs as
 * much as the sweep's.
 */
function watchWorkersRss(pids: readonly number[]) {
  const idle = new Map<number, number>();
  const sampled = new Map<number, number>();
  let sampler: NodeJS.Timeout | undefined;
  const sample = async () => {
    for (const [pid, peak] of sampled) sampled.set(pid, Math.max(peak, (await memoryMiB(pid).catch(() => ({ rss: 0 }))).rss));
  };
  return {
    async start() {
      for (const pid of pids) {
        idle.set(pid, (await memoryMiB(pid)).rss);
        const reset = await writeFile(`/proc/${pid}/clear_refs`, '5').then(() => true, () => false);
        if (!reset) sampled.set(pid, idle.get(pid)!);
      }
      if (sampled.size > 0) sampler = setInterval(() => void sample(), 50);
    },
    async stop() {
      clearInterval(sampler);
      await sample();
      return Promise.all(
        pids.map(async (pid) => {
          const peakMiB = sampled.get(pid) ?? (await memoryMiB(pid)).peak;
          return { pid, idleRssMiB: idle.get(pid)!, peakRssDuringSweepMiB: peakMiB, ratio: peakMiB / idle.get(pid)! };
        }),
      );
    },
  };
}

/**
 * accept -> DEPLOYED samples of the idle baseline (during the sweep: as many as it lasts). With 100,
 * the idle p99 was one sample's and swung from 83 to 118 ms between runs of the same code, the
 * sweep's (about 950 samples) 181-183 ms: the ratio went from 1.5x to 2.2x on the idle side alone.
 */
const LATENCY_SAMPLES = 400;
const CALLERS = 4;

interface CampaignOptions {
  size: number;
  pushPerMinute: number;
  fcmQuotaPerMinute: number;
  /** Worker processes sharing the push bucket (and running the deployments of the latency pass). */
  workers: number;
}

function option(argv: string[], name: string, fallback: number): number {
  const raw = argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number, got '${raw}'`);
  return n;
}

export function parseCampaignOptions(argv: string[]): CampaignOptions {
  const unknown = argv.filter((a) => a !== '--campaign' && !/^--(campaign-size|push-rate|fcm-quota|workers)=/.test(a));
  if (unknown.length > 0) {
    throw new Error(`unknown: ${unknown.join(' ')}\nusage: npm run bench -- --campaign [--campaign-size=100000] [--push-rate=25000] [--fcm-quota=30000] [--workers=2]`);
  }
  return {
    size: option(argv, 'campaign-size', 100_000),
    // The fake FCM's quota is scaled down (30,000/min) so a run fits minutes; the bucket sits below it as in production.
    pushPerMinute: option(argv, 'push-rate', 25_000),
    fcmQuotaPerMinute: option(argv, 'fcm-quota', 30_000),
    // As production runs them: worker processes of their own, beside the API (two on the 2-core machine).
    workers: option(argv, 'workers', 2),
  };
}

/** With BENCH_API_CPU_PROF_DIR set, the API process writes a V8 CPU profile there when it stops. */
const apiProfileDir = process.env.BENCH_API_CPU_PROF_DIR;

const log = (message: string) => console.error(`[bench campaign] ${message}`);
const seconds = (from: number) => (Date.now() - from) / 1000;

/** Runs batches of `BATCH` indexes from `CALLERS` callers at once; returns the elapsed seconds. */
async function inBatches(size: number, send: (from: number, to: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      for (let from = next; from < size; from = next) {
        next = Math.min(size, from + BATCH);
        await send(from, next);
      }
    }),
  );
  return seconds(started);
}

const ISSUE = /* GraphQL */ `
  mutation BenchIssueCampaign($inputs: [IssueCreditOfferInput!]!) {
    issueCreditOffers(inputs: $inputs) { __typename }
  }
`;

async function issueThroughApi(url: string, token: string, run: string, size: number): Promise<number> {
  const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
  return inBatches(size, async (from, to) => {
    const inputs = [];
    for (let k = from; k < to; k += 1) {
      inputs.push({ userId: `${run}-api-${k}`, limitCents: 100_000 + k, interestRateBps: 150, expiresAt, externalRef: `${run}-api-${k}`, campaignId: `${run}-api` });
    }
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: ISSUE, variables: { inputs } }),
    });
    const body = (await response.json()) as { data?: { issueCreditOffers: { __typename: string }[] }; errors?: unknown };
    if (!body.data || body.data.issueCreditOffers.some((r) => r.__typename !== 'IssueCreditOfferSuccess')) {
      throw new Error(`a batch was not issued whole: ${response.status} ${JSON.stringify(body.errors ?? body.data).slice(0, 300)}`);
    }
  });
}

/** The baseline: the same rows (users, then offers) with one plain multi-row statement each per batch. */
async function issueWithSql(db: pg.Pool, run: string, size: number, tag = 'sql'): Promise<number> {
  return inBatches(size, async (from, to) => {
    const ks = Array.from({ length: to - from }, (_, i) => from + i);
    const users = ks.map((k) => `${run}-${tag}-${k}`);
    await db.query('INSERT INTO users (id) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT (id) DO NOTHING', [users]);
    // The offers and their OFFER_RECEIVED notifications, as issuance writes them.
    await db.query(
      `WITH o AS (
         INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, expires_at, external_ref, campaign_id)
         SELECT gen_random_uuid(), u, l, 150, 'BRL', now() + interval '1 hour', u, $3 FROM unnest($1::text[], $2::bigint[]) AS i(u, l)
         ON CONFLICT (external_ref) DO NOTHING
         RETURNING id, user_id)
       INSERT INTO notifications (id, user_id, kind, title, body, deep_link, dedupe_key, offer_id, correlation_id)
       SELECT gen_random_uuid(), user_id, 'OFFER_RECEIVED', 'Você tem uma oferta de crédito', 'Um limite de R$ 1.000,00 está disponível.',
              'app://credit/offers/' || id, md5('OFFER_RECEIVED:' || id)::uuid, id, $3 FROM o`,
      [users, ks.map((k) => 100_000 + k), `${run}-${tag}`],
    );
  });
}

/** The baseline of the sweep: a set-based loop doing the same writes (offer, notification, outbox event). */
async function expireWithSql(db: pg.Pool, campaign: string, batch: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const { rows } = await db.query(
      `WITH due AS (SELECT id FROM credit_offers WHERE status = 'PENDING' AND campaign_id = $1 AND expires_at <= now()
                     ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED),
            expired AS (UPDATE credit_offers o SET status = 'EXPIRED', expired_at = now() FROM due WHERE o.id = due.id
                        RETURNING o.id, o.user_id, o.limit_cents),
            per_user AS (SELECT user_id, count(*)::int AS n FROM expired GROUP BY user_id),
            seq AS (UPDATE users u SET last_event_sequence = u.last_event_sequence + p.n FROM per_user p WHERE u.id = p.user_id
                    RETURNING u.id AS user_id, u.last_event_sequence - p.n AS before),
            outbox AS (INSERT INTO outbox_events (id, user_id, sequence, type, occurred_at, payload)
                       SELECT gen_random_uuid(), e.user_id, s.before + row_number() OVER (PARTITION BY e.user_id ORDER BY e.id),
                              'credit.offer.expired', now(), jsonb_build_object('offerId', e.id::text, 'limitCents', e.limit_cents::text)
                         FROM expired e JOIN seq s ON s.user_id = e.user_id),
            notified AS (INSERT INTO notifications (id, user_id, kind, title, body, deep_link, dedupe_key, offer_id, correlation_id)
                         SELECT gen_random_uuid(), e.user_id, 'OFFER_EXPIRED', 'Sua oferta de crédito expirou', 'A oferta expirou.',
                                'app://credit/offers/' || e.id, md5('OFFER_EXPIRED:' || e.id)::uuid, e.id, 'bench' FROM expired e)
       SELECT count(*)::int AS n FROM expired`,
      [campaign, batch],
    );
    if ((rows[0] as { n: number }).n < batch) return seconds(started);
  }
}

/**
 * The plain-SQL baseline's notifications, marked read and settled once measured: they have no jobs,
 * and the workers' reconciler would otherwise enqueue each of them (tens of thousands of first
 * steps competing with the pushes and the latency pass measured next).
 */
async function settleBaseline(db: pg.Pool, campaign: string): Promise<void> {
  await db.query(
    `UPDATE notifications n SET status = 'ACKNOWLEDGED', acknowledged_at = now(), push_settled_at = now()
       FROM credit_offers o WHERE o.id = n.offer_id AND o.campaign_id = $1`,
    [campaign],
  );
}

/**
 * One user accepting offers and waiting for DEPLOYED (on the live stream), one after another,
 * until `stop()` says so (and at least `min` times): the accept -> DEPLOYED samples, ms.
 */
async function oneUserLoop(url: string, min: number, stop: () => boolean): Promise<{ userId: string; samples: number[] }> {
  const engine = await engineToken();
  const user = await newUser('campaign-latency');
  const socket = await openSocket(url, user.token);
  const samples: number[] = [];
  try {
    while (samples.length < min || !stop()) {
      const offerId = await issueOffer(url, engine, user.id);
      const start = performance.now();
      await untilDeployed(socket, await acceptOffer(url, user, offerId));
      samples.push(since(start));
    }
  } finally {
    await socket.dispose();
  }
  return { userId: user.id, samples };
}

/**
 * The part of a user's accept -> DEPLOYED that the database saw: from the accept's transaction to
 * the apply's (the times of their QUEUED and DEPLOYED audit events), ms. What the app saw beyond
 * it is the apply's commit, the publish and the stream to the app.
 */
async function acceptToApplyInDatabase(db: pg.Pool, userId: string): Promise<number[]> {
  const { rows } = await db.query(
    `SELECT extract(epoch FROM max(e.at) FILTER (WHERE e.type = 'DEPLOYED') - min(e.at) FILTER (WHERE e.type = 'QUEUED')) * 1000 AS ms
       FROM credit_deployments d JOIN deployment_events e ON e.deployment_id = d.id WHERE d.user_id = $1 GROUP BY d.id`,
    [userId],
  );
  return rows.map((r: { ms: string }) => Number(r.ms));
}

/** With BENCH_WORKER_CPU_PROF_DIR set, each worker writes a V8 CPU profile there when it stops (`node --cpu-prof`). */
const profileDir = process.env.BENCH_WORKER_CPU_PROF_DIR;

/**
 * ANALYZE, where a production server's autovacuum would have run it: this machine's PostgreSQL
 * runs with autovacuum off, so tables that grew by 100,000s of rows within the run kept the
 * planner's picture of them empty, and the workers' statements were planned for tables that
 * were not there. Timed, and left out of every rate.
 */
async function analyzeAsAutovacuumWould(db: pg.Pool, log: (message: string) => void, after: string): Promise<void> {
  const { rows } = await db.query<{ on: string }>("SELECT current_setting('autovacuum') AS on");
  if (rows[0]?.on === 'on') return;
  const started = performance.now();
  await db.query('ANALYZE');
  log(`ANALYZE after ${after} (autovacuum is off on this server): ${Math.round(performance.now() - started)} ms`);
}

/** Sends in each 10 s from the first (the push's shape: a steady rate, or bursts and stalls). */
function perTenSeconds(times: readonly number[]): number[] {
  const counts: number[] = [];
  for (const t of times) {
    const slot = Math.floor((t - times[0]!) / 10_000);
    while (counts.length <= slot) counts.push(0);
    counts[slot]! += 1;
  }
  return counts;
}

async function count(db: pg.Pool, sql: string, params: unknown[]): Promise<number> {
  const { rows } = await db.query(sql, params);
  return Number((rows[0] as { n: string | number }).n);
}

type CpuReading = Awaited<ReturnType<ReturnType<typeof cpuReader>>>;

/**
 * CPU seconds so far: the whole machine's, the workers', PostgreSQL's (server and backends) and
 * Redis's by pid, the API's, and the bench's own process (the first pass's sweep, the fake FCM, the callers).
 */
function cpuReader(workersCpu: () => Promise<number>, apiPid: number) {
  return async () => {
    const servers = await cpuSecondsByPid('postgres', 'redis-server');
    return {
      machine: await machineBusySeconds(),
      workers: await workersCpu(),
      postgres: servers.get('postgres')!,
      redis: servers.get('redis-server')!,
      api: await cpuSeconds(apiPid),
      benchAndSweep: await cpuSeconds(process.pid),
    };
  };
}

/** CPU seconds spent between two readings, per reader. */
function cpuSpent(before: CpuReading, after: CpuReading): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after).map(([k, v]) => {
      const was = before[k as keyof CpuReading];
      return [k, typeof v === 'number' ? v - (was as number) : cpuSpentSince(was as Map<number, number>, v)];
    }),
  );
}

/** CPU seconds spent between two readings, per reader, with the wall seconds between them. */
function cpuSince(before: CpuReading, after: CpuReading, wallSeconds: number): Record<string, number> {
  return { ...cpuSpent(before, after), wallSeconds };
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
}

export async function runCampaignBench(argv: string[]): Promise<void> {
  const options = parseCampaignOptions(argv);
  const run = `c${Date.now()}`;
  const dbName = `credit_bench_campaign_${run}`;
  const base = loadConfig();
  const prefix = `bench-campaign-${run}`;
  const url = await createBenchDatabase(dbName);
  const config: Config = {
    ...base,
    DATABASE_URL: url,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    // The bench sweeps at the instant it chooses; the scheduler stays out of the way.
    OFFER_EXPIRY_INTERVAL_MS: 3_600_000,
    PUSH_MAX_PER_MINUTE: options.pushPerMinute,
    // One user accepts in a loop for the latency rows: far more than an app's per-user budget.
    RATE_LIMIT_USER_MUTATIONS_PER_MINUTE: 1_000_000,
  };
  // What the service's processes are started with (the config above, as their environment).
  const serviceEnv = {
    DATABASE_URL: url,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    OFFER_EXPIRY_INTERVAL_MS: String(config.OFFER_EXPIRY_INTERVAL_MS),
    PUSH_MAX_PER_MINUTE: String(options.pushPerMinute),
    RATE_LIMIT_USER_MUTATIONS_PER_MINUTE: String(config.RATE_LIMIT_USER_MUTATIONS_PER_MINUTE),
    // Its query cost too: at 100,000 offers the loop ran past the default 30,000 a minute.
    RATE_LIMIT_USER_BUDGET_PER_MINUTE: '100000000',
  };
  const db = new pg.Pool({ connectionString: url, max: CALLERS + 2 });
  // The sweep runs here, as a worker's job runs it, through the service's own database client.
  connectDatabase(databaseSettings(config));
  const redis = new Redis(base.REDIS_URL);
  const fcm = new QuotaFcm(options.fcmQuotaPerMinute);
  const services: ServiceProcess[] = [];
  const workers: ServiceProcess[] = [];
  const busyAtStart = await machineBusySeconds();
  const startedAt = Date.now();
  try {
    await fcm.start();
    // The API is a process of its own, the production build, as in production: the bench's
    // client (building and encoding each batch) and the sweep of the second pass run beside it,
    // not on its event loop.
    buildProduction(log);
    const apiLog = fileURLToPath(new URL(`./results/campaign-${run}-api.log`, import.meta.url));
    const api = await startService('api', { ...serviceEnv, LOG_LEVEL: 'info' }, apiLog, apiProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${apiProfileDir}`] : []);
    services.push(api);
    const engine = await tokenSigner(config.JWT_SECRET)('bench-credit-engine', ['credit-engine']);

    log(`issuing ${options.size} offers through issueCreditOffers (batches of ${BATCH}, ${CALLERS} callers)`);
    const issueSeconds = await issueThroughApi(api.url!, engine, run, options.size);
    log('the same rows with plain SQL');
    const issueSqlSeconds = await issueWithSql(db, run, options.size);
    const issuedRows = await count(db, 'SELECT count(*) AS n FROM credit_offers WHERE campaign_id = $1', [`${run}-api`]);
    const issuedSqlRows = await count(db, 'SELECT count(*) AS n FROM credit_offers WHERE campaign_id = $1', [`${run}-sql`]);
    if (issuedRows !== options.size || issuedSqlRows !== options.size) throw new Error(`issued ${issuedRows} / ${issuedSqlRows} rows, not ${options.size}`);
    // The same writes: each offer with its OFFER_RECEIVED, on both sides.
    const received = (campaign: string) =>
      count(db, `SELECT count(*) AS n FROM notifications n JOIN credit_offers o ON o.id = n.offer_id WHERE o.campaign_id = $1 AND n.kind = 'OFFER_RECEIVED'`, [campaign]);
    const [receivedApi, receivedSql] = [await received(`${run}-api`), await received(`${run}-sql`)];
    if (receivedApi !== options.size || receivedSql !== options.size) throw new Error(`OFFER_RECEIVED ${receivedApi} / ${receivedSql}, not ${options.size}`);
    await analyzeAsAutovacuumWould(db, log, 'the issuance');

    // Every user of the service's campaign has a phone, no live app and no quiet hours: each
    // notification is a push, whatever the time of day in their zone.
    await db.query(
      `INSERT INTO notification_preferences (user_id, quiet_hours_enabled)
       SELECT user_id, false FROM credit_offers WHERE campaign_id = $1 ON CONFLICT (user_id) DO NOTHING`,
      [`${run}-api`],
    );
    await db.query(
      `INSERT INTO devices (id, user_id, token, platform) SELECT gen_random_uuid(), user_id, 'device-' || user_id, 'ANDROID'
         FROM credit_offers WHERE campaign_id = $1`,
      [`${run}-api`],
    );

    const dueNow = (campaign: string) =>
      db.query(`UPDATE credit_offers SET expires_at = now() - interval '1 second' WHERE campaign_id = $1`, [campaign]);
    log('expiring the plain-SQL campaign at one instant with a plain set-based loop (the baseline)');
    await dueNow(`${run}-sql`);
    const sqlSweepSeconds = await expireWithSql(db, `${run}-sql`, config.OFFER_EXPIRY_BATCH_SIZE);
    await settleBaseline(db, `${run}-sql`);
    log("expiring the service's campaign at one instant with the service's sweep (each batch's notifications handed to one first-steps job as it commits)");
    await dueNow(`${run}-api`);
    const queueRedis = { url: config.REDIS_URL, logger: createLogger('warn') };
    const notificationQueue = createNotificationQueue({ redis: queueRedis, prefix }, { attempts: config.PUSH_ATTEMPTS, backoffMs: config.PUSH_BACKOFF_MS });
    const memoryBefore = await usedMemory(redis);
    const sweepStarted = Date.now();
    // The sweep as the job runs it: batch after batch, each batch's notifications enqueued as it commits.
    const expired = await expireDueOffers(
      (batch) => enqueueFirstSteps(notificationQueue, firstStepsOf(batch), createLogger('warn')),
      { batchSize: config.OFFER_EXPIRY_BATCH_SIZE, pauseMs: 0 },
    );
    const sweepSeconds = seconds(sweepStarted);
    const backlogBytes = (await usedMemory(redis)) - memoryBefore;
    await notificationQueue.close();
    const expiredApi = await count(db, "SELECT count(*) AS n FROM credit_offers WHERE campaign_id = $1 AND status = 'EXPIRED'", [`${run}-api`]);
    await analyzeAsAutovacuumWould(db, log, 'the expiry');

    log(
      `pushing ${options.size} notifications at PUSH_MAX_PER_MINUTE=${options.pushPerMinute} from ${options.workers} worker processes ` +
        `to a fake FCM with a quota of ${options.fcmQuotaPerMinute}/min`,
    );
    // The production build's workers, pushing through firebase-admin to the fake FCM as to a staging
    // double (FCM_API_URL, with a service account whose token step the fake answers). Until
    // 2026-12-07 19:12 UTC they ran from source (tsx) with a test's stand-in messaging (about 430
    // MiB of RSS each after 5,000 pushes, where the build's were at 310-370).
    const workerEnv = {
      ...serviceEnv,
      // As production logs (and 'service started', which startService waits for, is at info).
      LOG_LEVEL: 'info',
      FCM_PROJECT_ID: 'credit-bench',
      FCM_SERVICE_ACCOUNT_JSON: fcm.serviceAccountJson(),
      FCM_API_URL: `http://127.0.0.1:${fcm.port}`,
      FCM_API_URL_IN_PRODUCTION: 'true',
    };
    const workerLog = (w: number) => fileURLToPath(new URL(`./results/campaign-${run}-worker-${w}.log`, import.meta.url));
    workers.push(
      ...(await Promise.all(
        Array.from({ length: options.workers }, (_, w) =>
          startService('worker', workerEnv, workerLog(w), profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
        ),
      )),
    );
    const pushStarted = Date.now();
    // The workers' CPU per send, from the first send on (their start-up left out): what a send
    // costs, whatever share of the machine the workers got.
    const workersCpu = async () => (await Promise.all(workers.map((w) => cpuSeconds(w.pid)))).reduce((a, b) => a + b, 0);
    let firstSends: { cpu: number; sends: number } | null = null;
    // Counting the settled pushes reads every notification of the campaign (a parallel scan of
    // 200,000 rows at 100,000 offers): polled every second, it took most of a core from the pushes
    // it waited for. It runs once the fake FCM has as many sends as there are pushes, or every 15 s
    // (pushes that end otherwise than sent).
    let countedAt = Date.now();
    // Where the machine's time went while the pushes ran, every 10 s, as shares of all cores.
    const cores = availableParallelism();
    const readCpu = cpuReader(workersCpu, api.pid);
    const cpuEvery10s: Record<string, number>[] = [];
    let cpuMark = await readCpu();
    const cpuSampler = setInterval(() => {
      void readCpu().then((now) => {
        cpuEvery10s.push(Object.fromEntries(Object.entries(cpuSpent(cpuMark, now)).map(([k, v]) => [k, Math.round((v / (10 * cores)) * 100)])));
        cpuMark = now;
      });
    }, 10_000);
    for (;;) {
      if (!firstSends && fcm.accepted.length > 0) firstSends = { cpu: await workersCpu(), sends: fcm.accepted.length };
      if (fcm.accepted.length < expiredApi && Date.now() - countedAt < 15_000 && seconds(pushStarted) <= 1_800) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      countedAt = Date.now();
      const settled = await count(
        db,
        // The expiry's notifications (each offer's OFFER_RECEIVED is settled too, dropped: the offer is no longer PENDING).
        `SELECT count(*) AS n FROM notifications n JOIN credit_offers o ON o.id = n.offer_id
          WHERE o.campaign_id = $1 AND n.kind = 'OFFER_EXPIRED' AND n.push_settled_at IS NOT NULL`,
        [`${run}-api`],
      );
      if (settled >= expiredApi || seconds(pushStarted) > 1_800) break;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    clearInterval(cpuSampler);
    const pushFailed = await count(
      db,
      `SELECT count(*) AS n FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id
         JOIN credit_offers o ON o.id = n.offer_id WHERE o.campaign_id = $1 AND d.channel = 'PUSH' AND d.status = 'FAILED'`,
      [`${run}-api`],
    );
    const sends = fcm.accepted.length;
    const cpuPerSendMs = firstSends && sends > firstSends.sends ? ((await workersCpu()) - firstSends.cpu) * 1000 / (sends - firstSends.sends) : null;
    const sendSeconds = sends > 1 ? (fcm.accepted.at(-1)! - fcm.accepted[0]!) / 1000 : 0;
    const sendsPerMinute = sendSeconds > 0 ? ((sends - 1) / sendSeconds) * 60 : 0;

    log('second pass: one user accepting and waiting for DEPLOYED, idle, then while another campaign expires');
    // Where the machine's time went in the idle pass and while the sweep ran: which work competes with the deployments.
    const cpuIdleBefore = await readCpu();
    const idleStarted = Date.now();
    const idle = await oneUserLoop(api.url!, LATENCY_SAMPLES, () => true);
    const cpuDuringIdle = cpuSince(cpuIdleBefore, await readCpu(), seconds(idleStarted));
    await issueWithSql(db, run, options.size, 'pass2');
    // Offers issued long ago, as a campaign's that expires: their OFFER_RECEIVED was dealt with then.
    await settleBaseline(db, `${run}-pass2`);
    await dueNow(`${run}-pass2`);
    await analyzeAsAutovacuumWould(db, log, "the second pass's issuance");
    // The sweep at its configured pace, as the scheduler's job runs it: in whichever worker takes
    // the job, beside that worker's deployments (the latency loop's) and pushes (the pass's own).
    const rss = watchWorkersRss(workers.map((w) => w.pid));
    await rss.start();
    const cpuBefore = await readCpu();
    let sweeping = true;
    const expiryQueue = createOfferExpiryQueue({ redis: queueRedis, prefix });
    const sweepPassStarted = Date.now();
    const sweep = (async () => {
      const job = await expiryQueue.add('expire-offers', {}, { removeOnComplete: false, removeOnFail: false });
      for (;;) {
        const state = await job.getState();
        if (state === 'completed' || state === 'failed') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const done = await Job.fromId(expiryQueue, job.id!);
      if (!done || done.failedReason) throw new Error(`the second pass's expiry job failed: ${done?.failedReason ?? 'gone'}`);
      // The worker's name is host:pid (src/jobs/queue-worker.ts).
      return { expired: Number(done.returnvalue), sweptBy: Number(done.processedBy?.split(':').at(-1)) };
    })().finally(() => (sweeping = false));
    const [underSweep, { expired: expiredPass2, sweptBy }] = await Promise.all([oneUserLoop(api.url!, 5, () => !sweeping), sweep]);
    const workersRss = (await rss.stop()).map((w) => ({ ...w, swept: w.pid === sweptBy }));
    const sweeper = workersRss.find((w) => w.swept);
    const sweepPassSeconds = seconds(sweepPassStarted);
    const cpuAfter = await readCpu();
    const cpuDuringSweep = cpuSince(cpuBefore, cpuAfter, sweepPassSeconds);
    await closeQueue(expiryQueue);
    if (expiredPass2 !== options.size) throw new Error(`the second pass's sweep expired ${expiredPass2} offers, not ${options.size}`);
    const idleLatency = summarize(idle.samples);
    const sweepLatency = summarize(underSweep.samples);

    const busy = (await machineBusySeconds()) - busyAtStart;
    const wall = seconds(startedAt);
    const results = {
      kind: 'campaign',
      at: new Date(startedAt).toISOString(),
      options,
      machine: { busyShareOfAllCores: busy / (wall * availableParallelism()) },
      issuance: {
        offersPerSecond: options.size / issueSeconds,
        plainSqlOffersPerSecond: options.size / issueSqlSeconds,
        rows: { service: issuedRows, plainSql: issuedSqlRows },
      },
      expiry: {
        offersPerSecond: expired / sweepSeconds,
        plainSqlOffersPerSecond: options.size / sqlSweepSeconds,
        expired,
      },
      pushSeconds: seconds(pushStarted),
      redis: { backlogBytes, bytesPerNotificationJob: backlogBytes / Math.max(1, expired) },
      push: { measuredOverSends: sends, sendsPerMinute, peakPerMinuteOver10s: fcm.peakPerMinute(10_000), peakPerMinuteOver60s: fcm.peakPerMinute(60_000), sendsPer10sFromFirst: perTenSeconds(fcm.accepted), busySharePer10s: cpuEvery10s, quotaRefusals: fcm.refused, pushDeliveriesFailed: pushFailed, workerCpuMsPerSend: cpuPerSendMs },
      // The API and the workers (deployments, pushes, the second pass's sweep) are processes of their own (the production build); the first pass's sweep runs in the bench's.
      latency: {
        idleAcceptToDeployedMs: idleLatency,
        duringSweepAcceptToDeployedMs: sweepLatency,
        cpuSecondsDuringIdlePass: cpuDuringIdle,
        cpuSecondsDuringSweep: cpuDuringSweep,
        inTheDatabase: {
          idleAcceptToApplyMs: summarize(await acceptToApplyInDatabase(db, idle.userId)),
          duringSweepAcceptToApplyMs: summarize(await acceptToApplyInDatabase(db, underSweep.userId)),
        },
      },
      // Each worker's: the one that took the expiry job swept (`swept`), the others pushed and deployed beside it.
      memory: { workers: workersRss },
      targets: {
        issuancePercentOfPlainSql: { value: (100 * issueSqlSeconds) / issueSeconds, target: '>= 50' },
        issuanceOffersPerSecond: { value: options.size / issueSeconds, target: '>= 5000 on the quiet 2-core machine' },
        expiryPercentOfPlainSql: { value: (100 * sqlSweepSeconds) / sweepSeconds, target: '>= 50' },
        pushWithinFivePercentOfRate: { value: sendsPerMinute / options.pushPerMinute, target: '0.95 .. 1.00, none above' },
        pushFailedForPacing: { value: pushFailed, target: 0 },
        acceptToDeployedP99DuringSweepOverIdle: { value: sweepLatency.p99 / idleLatency.p99, target: '<= 2' },
        peakRssDuringSweepOverIdle: sweeper
          ? { value: sweeper.ratio, target: '<= 1.5 (the worker that swept)' }
          : { value: Math.max(...workersRss.map((w) => w.ratio)), target: '<= 1.5 (the highest of the workers: which one swept is unknown)' },
      },
    };
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const file = `${dir}${new Date(startedAt).toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}-campaign.json`;
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    console.log(JSON.stringify(results, null, 2));
    log(`written to ${file}`);
  } finally {
    await Promise.all(workers.map((w) => w.stop().catch(() => {})));
    await Promise.all(services.map((s) => s.stop().catch(() => {})));
    await fcm.close();
    await db.end();
    await prisma.$disconnect();
    redis.disconnect();
    await removeRedisKeys(prefix);
    await dropBenchDatabase(dbName);
  }
}
