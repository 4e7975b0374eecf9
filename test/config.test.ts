// Configuration is parsed once, and a bad value stops the start with every problem named.
import { describe, expect, it } from 'vitest';
import { databasePoolSize, parseConfig } from '../src/platform/config.ts';

describe('parseConfig', () => {
  it('has local defaults that need no .env (in development)', () => {
    const config = parseConfig({ NODE_ENV: 'development' });
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

  it('reads a Redis Cluster as host:port seeds, and names a bad one', () => {
    expect(parseConfig({ NODE_ENV: 'test', REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001' }).REDIS_CLUSTER_NODES).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-b', port: 7001 },
    ]);
    expect(parseConfig({ NODE_ENV: 'test' }).REDIS_CLUSTER_NODES).toBeUndefined();
    expect(() => parseConfig({ NODE_ENV: 'test', REDIS_CLUSTER_NODES: '10.0.0.1:7000,redis-b' })).toThrow(/REDIS_CLUSTER_NODES: .*"redis-b" is not host:port/);
  });

  it('leaves the regulatory period unset until compliance sets it, and refuses one shorter than a year or than ordinary notifications', () => {
    const defaults = parseConfig({ NODE_ENV: 'test' });
    expect(defaults.REGULATORY_RETENTION_DAYS).toBeUndefined();
    expect(defaults.NOTIFICATION_RETENTION_DAYS).toBe(180);
    expect(parseConfig({ NODE_ENV: 'test', REGULATORY_RETENTION_DAYS: '3650' }).REGULATORY_RETENTION_DAYS).toBe(3650);
    expect(() => parseConfig({ NODE_ENV: 'test', REGULATORY_RETENTION_DAYS: '5' })).toThrow(/REGULATORY_RETENTION_DAYS/);
    expect(() => parseConfig({ NODE_ENV: 'test', REGULATORY_RETENTION_DAYS: '400', NOTIFICATION_RETENTION_DAYS: '500' })).toThrow(
      /REGULATORY_RETENTION_DAYS: must be at least NOTIFICATION_RETENTION_DAYS \(500\)/,
    );
  });

  it('behind PgBouncer, needs the direct URL for migrations and session defaults', () => {
    expect(() => parseConfig({ NODE_ENV: 'test', DATABASE_POOLER: 'pgbouncer' })).toThrow(/DIRECT_DATABASE_URL/);
    const config = parseConfig({ NODE_ENV: 'test', DATABASE_POOLER: 'pgbouncer', DIRECT_DATABASE_URL: 'postgres://postgres@10.0.0.2:5432/credit' });
    expect(config).toMatchObject({ DATABASE_POOLER: 'pgbouncer', DIRECT_DATABASE_URL: 'postgres://postgres@10.0.0.2:5432/credit' });
  });

  it('refuses the development JWT secret in production', () => {
    expect(() => parseConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET/);
    expect(() => parseConfig({ NODE_ENV: 'production', JWT_SECRET: 'dev-only-secret-do-not-use-in-production-0123456789' })).toThrow(/JWT_SECRET/);
    expect(parseConfig({ NODE_ENV: 'production', JWT_SECRET: 'a-real-secret-of-at-least-thirty-two-chars!', CONSENT_HMAC_KEY: 'a-real-consent-key-of-at-least-thirty-two-chars' }).NODE_ENV).toBe('production');
  });

  it('refuses production without a consent HMAC key, or with the development one', () => {
    const production = { NODE_ENV: 'production', JWT_SECRET: 'a-real-secret-of-at-least-thirty-two-chars!' };
    expect(() => parseConfig(production)).toThrow(/CONSENT_HMAC_KEY/);
    expect(() => parseConfig({ ...production, CONSENT_HMAC_KEY: 'dev-only-consent-key-do-not-use-in-production-0123456789' })).toThrow(/CONSENT_HMAC_KEY/);
  });

  it('treats an unset NODE_ENV as production: no secret, no start; no development conveniences', () => {
    expect(() => parseConfig({})).toThrow(/JWT_SECRET: set JWT_SECRET or JWT_JWKS_URL/);
    const config = parseConfig({ JWT_SECRET: 'a-real-secret-of-at-least-thirty-two-chars!', CONSENT_HMAC_KEY: 'a-real-consent-key-of-at-least-thirty-two-chars' });
    expect(config).toMatchObject({ NODE_ENV: 'production', GRAPHQL_ALLOW_DOCUMENTS: false, GRAPHQL_EXPOSE_SCHEMA: false, GRAPHIQL: false, CORS_ORIGINS: [] });
    expect(parseConfig({ NODE_ENV: 'test' }).GRAPHQL_ALLOW_DOCUMENTS).toBe(true);
    expect(parseConfig({ JWT_SECRET: 'a-real-secret-of-at-least-thirty-two-chars!', CONSENT_HMAC_KEY: 'a-real-consent-key-of-at-least-thirty-two-chars', GRAPHQL_ALLOW_DOCUMENTS: 'true' }).GRAPHQL_ALLOW_DOCUMENTS).toBe(true);
  });

  it('switches edge protections off only outside production (the bench\'s on/off comparison)', () => {
    expect(parseConfig({ NODE_ENV: 'test' }).EDGE_PROTECTIONS_OFF).toEqual([]);
    const off = parseConfig({ NODE_ENV: 'development', EDGE_PROTECTIONS_OFF: 'rate-limits, token-checks,rate-limits' });
    expect(off.EDGE_PROTECTIONS_OFF).toEqual(['rate-limits', 'token-checks']);
    expect(() => parseConfig({ NODE_ENV: 'development', EDGE_PROTECTIONS_OFF: 'persisted-operations' })).toThrow(/EDGE_PROTECTIONS_OFF/);
    const production = { JWT_SECRET: 'a-real-secret-of-at-least-thirty-two-chars!', EDGE_PROTECTIONS_OFF: 'rate-limits' };
    expect(() => parseConfig(production)).toThrow(/EDGE_PROTECTIONS_OFF: the edge's protections are never off in production/);
  });

  it('needs an issuer and an audience with a JWKS, and a clock tolerance of at most 5 s', () => {
    expect(() => parseConfig({ JWT_JWKS_URL: 'https://id.example.test/jwks.json' })).toThrow(/JWT_JWKS_URL: tokens from a JWKS need JWT_ISSUER and JWT_AUDIENCE/);
    const jwks = { JWT_JWKS_URL: 'https://id.example.test/jwks.json', JWT_ISSUER: 'https://id.example.test/', JWT_AUDIENCE: 'app', CONSENT_HMAC_KEY: 'a-real-consent-key-of-at-least-thirty-two-chars' };
    expect(parseConfig(jwks).JWT_JWKS_URL).toBe(jwks.JWT_JWKS_URL);
    expect(() => parseConfig({ NODE_ENV: 'test', JWT_CLOCK_TOLERANCE_S: '30' })).toThrow(/JWT_CLOCK_TOLERANCE_S/);
  });

  it('reads the CORS allowlist as origins', () => {
    expect(parseConfig({ NODE_ENV: 'test', CORS_ORIGINS: 'https://a.example, https://b.example:8443' }).CORS_ORIGINS).toEqual(['https://a.example', 'https://b.example:8443']);
    expect(() => parseConfig({ NODE_ENV: 'test', CORS_ORIGINS: 'https://a.example/path' })).toThrow(/CORS_ORIGINS/);
  });

  it('sizes the pool from the jobs a process runs at once, plus the API share, unless set', () => {
    const config = parseConfig({ NODE_ENV: 'test', WORKER_CONCURRENCY: '16' });
    // 16 deployment jobs (a job waiting on a row lock holds a connection), as many for the
    // notification worker, plus 10.
    expect(databasePoolSize(config)).toBe(42);
    // The notification jobs in flight share their batches' statements: more of them, no more connections.
    expect(config.NOTIFICATION_CONCURRENCY).toBe(64);
    expect(databasePoolSize(parseConfig({ NODE_ENV: 'test', WORKER_CONCURRENCY: '16', NOTIFICATION_CONCURRENCY: '500' }))).toBe(42);
    expect(() => parseConfig({ NODE_ENV: 'test', NOTIFICATION_CONCURRENCY: '0' })).toThrow(/NOTIFICATION_CONCURRENCY/);
    expect(databasePoolSize(config, false)).toBe(10);
    expect(databasePoolSize(parseConfig({ NODE_ENV: 'test', DATABASE_POOL_SIZE: '7' }))).toBe(7);
  });

  it('refuses a short secret', () => {
    expect(() => parseConfig({ JWT_SECRET: 'short' })).toThrow(/JWT_SECRET: must be at least 32 characters/);
  });
});
