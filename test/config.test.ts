// Configuration is parsed once, and a bad value stops the start with every problem named.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/platform/config.ts';

describe('parseConfig', () => {
  it('has local defaults that need no .env', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/credit_deployment',
      REDIS_URL: 'redis://127.0.0.1:6379',
      PORT: 4000,
      DEPLOYMENT_RETRY_HORIZON_MS: 3_600_000,
    });
  });

  it('names every bad variable in one error', () => {
    const parse = () => parseConfig({ PORT: 'eighty', DATABASE_URL: 'not a url', WORKER_CONCURRENCY: '0', LOG_LEVEL: 'loud' });
    expect(parse).toThrow(/PORT/);
    try {
      parse();
    } catch (error) {
      const message = (error as Error).message;
      for (const name of ['PORT', 'DATABASE_URL', 'WORKER_CONCURRENCY', 'LOG_LEVEL']) expect(message).toContain(name);
    }
  });

  it('refuses the development JWT secret in production', () => {
    expect(() => parseConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET/);
    expect(parseConfig({ NODE_ENV: 'production', JWT_SECRET: 'a-real-secret-of-at-least-thirty-two-chars!' }).NODE_ENV).toBe('production');
  });

  it('refuses a short secret', () => {
    expect(() => parseConfig({ JWT_SECRET: 'short' })).toThrow(/JWT_SECRET: must be at least 32 characters/);
  });
});
