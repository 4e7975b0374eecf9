// Process entry: `node --import tsx src/main.ts [all|api|worker]`. SIGTERM/SIGINT drain and exit.
import { loadConfig } from './platform/config.ts';
import { prisma } from './platform/db.ts';
import { createLogger } from './platform/logger.ts';
import { startService } from './service.ts';

const ROLES = { all: { api: true, worker: true }, api: { api: true, worker: false }, worker: { api: false, worker: true } };
const role = (process.argv[2] ?? 'all') as keyof typeof ROLES;
if (!(role in ROLES)) {
  console.error(`usage: main.ts [${Object.keys(ROLES).join('|')}]`);
  process.exit(2);
}

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL);
const service = await startService({ ...ROLES[role], config, logger });
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
    await prisma.$disconnect();
    process.exit(0);
  } catch (error) {
    logger.error({ err: error }, 'shutdown failed');
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
