// Publishes stored events again, in sequence order per user (docs/events.md), e.g. after a Redis
// loss or a trimmed stream:
//   npm run events:replay -- --from-sequence N [--user U]
//   npm run events:replay -- --from-time 2026-11-29T00:00:00Z
import { parseArgs } from 'node:util';
import { replayEvents, type ReplayFrom } from '../src/domain/outbox.ts';
import { loadConfig } from '../src/platform/config.ts';
import { connectDatabase } from '../src/platform/db.ts';
import { createLogger } from '../src/platform/logger.ts';
import { closeRedis, createRedis } from '../src/platform/redis.ts';
import { eventStreamPublisher } from '../src/realtime/event-stream.ts';
import { databaseSettings, eventStreamSettings } from '../src/service.ts';

const USAGE = 'usage: npm run events:replay -- --from-sequence N [--user U] | --from-time ISO-8601';

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function replayFrom(): ReplayFrom {
  let values;
  try {
    ({ values } = parseArgs({ options: { 'from-sequence': { type: 'string' }, 'from-time': { type: 'string' }, user: { type: 'string' } } }));
  } catch (error) {
    fail((error as Error).message);
  }
  const { 'from-sequence': sequence, 'from-time': time, user } = values;
  if ((sequence === undefined) === (time === undefined)) fail('give either --from-sequence or --from-time');
  if (time !== undefined) {
    if (user !== undefined) fail('--user goes with --from-sequence');
    const fromTime = new Date(time);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(time) || Number.isNaN(fromTime.getTime())) fail(`--from-time: not an ISO 8601 time: ${time}`);
    return { fromTime };
  }
  if (!/^[1-9]\d{0,8}$/.test(sequence!)) fail(`--from-sequence: not a sequence (1 or more): ${sequence}`);
  return { fromSequence: Number(sequence), ...(user !== undefined ? { userId: user } : {}) };
}

const from = replayFrom();
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
