// Publishes stored events again, in sequence order per user (docs/events.md), e.g. after a Redis
// loss or a trimmed stream:
//   npm run events:replay -- --from-sequence N [--user U]
//   npm run events:replay -- --from-time 2026-11-29T00:00:00Z
import type { ReplayFrom } from '../src/domain/outbox.ts';
import { replayEvents } from '../src/events/outbox-publishing.ts';
import { loadConfig } from '../src/platform/config.ts';
import { connectDatabase } from '../src/platform/db.ts';
import { createLogger } from '../src/platform/logger.ts';
import { closeRedis, createRedis } from '../src/platform/redis.ts';
import { eventStreamPublisher } from '../src/events/stream-publisher.ts';
import { databaseSettings, eventStreamSettings } from '../src/settings.ts';
import { parseReplayArguments, REPLAY_USAGE } from './replay-arguments.ts';

let from: ReplayFrom;
try {
  from = parseReplayArguments(process.argv.slice(2));
} catch (error) {
  console.error(`${(error as Error).message}\n${REPLAY_USAGE}`);
  process.exit(2);
}
const config = loadConfig();
const prisma = connectDatabase(databaseSettings(config));
const redis = createRedis('publisher', { url: config.REDIS_URL, logger: createLogger(config.LOG_LEVEL) });
const stream = eventStreamSettings(config);
try {
  const published = await replayEvents(eventStreamPublisher(redis, stream), from);
  console.log(`${published} events published again on ${stream.key}`);
} catch (error) {
  console.error(`replay failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await closeRedis(redis);
  await prisma.$disconnect();
}
