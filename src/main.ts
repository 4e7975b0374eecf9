// Process entry: `node dist/src/main.js [all|api|worker|insights]` (the build, `npm run build`), or
// from source `node --import tsx src/main.ts [all|api|worker|insights]`. `all` (what `npm start`
// runs) supervises two processes, the API and the worker, so each has a core of its own; `api`,
// `worker` and `insights` (the example consumer of the events stream, docs/events.md) run that
// part in this process. SIGTERM/SIGINT drain and exit.
import { fileURLToPath } from 'node:url';
import { loadConfig } from './platform/config.ts';
import { createLogger } from './platform/logger.ts';
import { superviseService, type ChildRole } from './platform/supervisor.ts';

const role = process.argv[2] ?? 'all';
if (role !== 'all' && role !== 'api' && role !== 'worker' && role !== 'insights') {
  console.error('usage: main [all|api|worker|insights]');
  process.exit(2);
}

// Read first, in every process: a bad setting stops the start with one message, before any child starts.
const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL).child({ role });
if (role === 'all') supervise();
else await runPart(role);

/** The API and the worker as child processes: this file again, with this process's Node flags (tsx or none). */
function supervise(): void {
  const entry = fileURLToPath(import.meta.url);
  const supervisor = superviseService({
    roles: ['api', 'worker'],
    command: (child: ChildRole) => ({ file: process.execPath, args: [...process.execArgv, entry, child] }),
    logger,
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    process.exit((await supervisor.stop()) ? 0 : 1);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

async function runPart(part: 'api' | 'worker' | 'insights'): Promise<void> {
  // Loaded here, not above: the supervisor needs none of it (Prisma, GraphQL, BullMQ).
  const [db, { startService }, { startTracing }] = await Promise.all([
    import('./platform/db.ts'),
    import('./service.ts'),
    import('./platform/tracing.ts'),
  ]);
  // Off (and its SDK not loaded) unless an OTLP endpoint is configured.
  const tracing = await startTracing(config, part === 'worker' ? 'credit-worker' : 'credit-api');
  if (tracing) logger.info('traces exported over OTLP/HTTP');
  const service = await startService({ api: part === 'api', worker: part === 'worker', insights: part === 'insights', config, logger });
  if (service.url) logger.info(`GraphQL (and GraphiQL) at ${service.url}/graphql`);

  let stopping = false;
  async function shutdown(signal: string) {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    try {
      await service.close();
      await db.prisma.$disconnect();
      await tracing?.shutdown();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // Started by the supervisor (it opened an IPC channel): if it is gone, even by SIGKILL, drain and exit too.
  if (process.channel) {
    process.channel.unref();
    process.on('disconnect', () => void shutdown('supervisor gone'));
  }
}
