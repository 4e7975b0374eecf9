// The test file's configuration (its database and Redis prefix, from test-env.ts), and Redis
// settings for connections the tests open themselves.
import { loadConfig } from '../../src/platform/config.ts';
import { createLogger } from '../../src/platform/logger.ts';

export const testConfig = loadConfig();
export const testRedis = { url: testConfig.REDIS_URL, logger: createLogger('silent') };
export const presenceOptions = (ttlMs = testConfig.PRESENCE_TTL_MS) => ({ prefix: testConfig.REDIS_PREFIX, ttlMs });
