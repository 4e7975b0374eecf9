// What the operations:* commands share: their arguments, and the service's own settings (as
// db:migrate runs with them): the database, Redis, the document limits.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CONTRACT_LIMITS, type DocumentLimits } from '../src/api/document-limits.ts';
import { loadConfig } from '../src/platform/config.ts';
import { connectDatabase } from '../src/platform/db.ts';
import { createLogger } from '../src/platform/logger.ts';
import { closeRedis, createRedis } from '../src/platform/redis.ts';
import { databaseSettings, redisSettings } from '../src/service.ts';

/** The command's arguments; a bad one prints the usage and exits 2. */
export function commandArguments<T extends NonNullable<ParseArgsConfig['options']>>(options: T, usage: string, positionals = false) {
  try {
    return parseArgs({ options, allowPositionals: positionals, strict: true });
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
}

/** Runs `work` with the service's settings, then closes what it opened. Exits 1 when it throws. */
export async function withService(work: (service: { limits: DocumentLimits; prefix: string; retireUnusedDays: number; redis: ReturnType<typeof createRedis> }) => Promise<void>) {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const prisma = connectDatabase(databaseSettings(config, false));
  const redis = createRedis('publisher', redisSettings(config, logger));
  try {
    await work({
      limits: { ...CONTRACT_LIMITS, exposeSchema: config.GRAPHQL_EXPOSE_SCHEMA },
      prefix: config.REDIS_PREFIX,
      retireUnusedDays: config.OPERATIONS_RETIRE_UNUSED_DAYS,
      redis,
    });
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 1;
  } finally {
    await closeRedis(redis);
    await prisma.$disconnect();
  }
}
