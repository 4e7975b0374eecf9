// What ships for running the service: docker-compose.yml publishes no database beyond loopback,
// has no default password, and connects the service as a role that is no superuser (created by
// the compose init script, run here against a throwaway PostgreSQL, where that role then runs
// the migrations); .env.example, used as it is, is production and refuses to start without a
// real JWT secret.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../src/platform/config.ts';
import { startThrowawayPostgres, type ThrowawayPostgres } from './support/throwaway-postgres.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const compose = parse(readFileSync(`${root}docker-compose.yml`, 'utf8'), { merge: true }) as {
  services: Record<string, { ports?: string[]; environment?: Record<string, string>; command?: string[]; volumes?: string[] }>;
};
const DATABASES = ['postgres', 'redis'];
/** A value compose refuses to start without: `${NAME:?message}`. */
const REQUIRED = /^\$\{([A-Z_]+):\?[^}]*\}$/;

describe('docker-compose.yml', () => {
  it('publishes no database port beyond loopback', () => {
    for (const name of DATABASES) {
      const ports = compose.services[name]!.ports ?? [];
      for (const port of ports) expect(port, `${name} publishes ${port}`).toMatch(/^127\.0\.0\.1:/);
    }
  });

  it('has no default password: every password and secret is required from the environment', () => {
    const secrets = Object.entries(compose.services).flatMap(([service, { environment = {} }]) =>
      Object.entries(environment).filter(([name]) => /PASSWORD|SECRET|KEY$|TOKEN$/.test(name)).map(([name, value]) => ({ service, name, value })),
    );
    expect(secrets.map((s) => s.name)).toEqual(expect.arrayContaining(['POSTGRES_PASSWORD', 'APP_DB_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET', 'CONSENT_HMAC_KEY', 'METRICS_SCRAPE_TOKEN']));
    for (const { service, name, value } of secrets) expect(String(value), `${service}.${name}`).toMatch(REQUIRED);
  });

  it('connects the service as its own role, to a Redis that needs a password', () => {
    const env = compose.services.api!.environment!;
    const database = new URL(env.DATABASE_URL!.replace('${APP_DB_PASSWORD}', 'x'));
    expect(database.username).toBe(compose.services.postgres!.environment!.APP_DB_USER);
    expect(database.username).not.toBe('postgres');
    expect(env.DATABASE_URL).toContain(':${APP_DB_PASSWORD}@');
    expect(env.REDIS_URL).toMatch(/^redis:\/\/:\$\{REDIS_PASSWORD\}@/);
    expect(compose.services.redis!.command!.join(' ')).toContain('--requirepass "$$REDIS_PASSWORD"');
    expect(compose.services.postgres!.volumes).toEqual(expect.arrayContaining([expect.stringMatching(/init-app-role\.sh:\/docker-entrypoint-initdb\.d\//)]));
  });
});

describe('the init script', () => {
  let server: ThrowawayPostgres;
  beforeAll(async () => {
    server = await startThrowawayPostgres();
  }, 60_000);
  afterAll(() => server?.destroy());

  it('creates a role that is no superuser and runs the migrations, owning what they create', async () => {
    const admin = new pg.Client({ connectionString: server.url() });
    await admin.connect();
    try {
      await admin.query('CREATE DATABASE credit_deployment');
      const run = spawnSync('sh', [`${root}docker/postgres/init-app-role.sh`], {
        env: { ...process.env, PGHOST: '127.0.0.1', PGPORT: String(server.port), POSTGRES_USER: 'postgres', POSTGRES_DB: 'credit_deployment', APP_DB_PASSWORD: 'test-password' },
        encoding: 'utf8',
      });
      expect(run.status, run.stderr).toBe(0);
      const { rows } = await admin.query("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = 'credit_app'");
      expect(rows).toEqual([{ rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolbypassrls: false }]);

      const appUrl = `postgres://credit_app:test-password@127.0.0.1:${server.port}/credit_deployment`;
      const migrate = spawnSync(process.execPath, ['scripts/prisma.mjs', 'migrate', 'deploy'], { cwd: root, env: { ...process.env, DATABASE_URL: appUrl }, encoding: 'utf8' });
      expect(migrate.status, migrate.stderr).toBe(0);
      const inDatabase = new pg.Client({ connectionString: server.url('credit_deployment') });
      await inDatabase.connect();
      const owners = await inDatabase
        .query<{ owner: string; tables: string }>("SELECT tableowner AS owner, count(*) AS tables FROM pg_tables WHERE schemaname = 'public' GROUP BY 1")
        .finally(() => inDatabase.end());
      expect(owners.rows).toEqual([{ owner: 'credit_app', tables: expect.any(String) }]);
      expect(Number(owners.rows[0]!.tables)).toBeGreaterThan(5);
    } finally {
      await admin.end();
    }
  }, 120_000);
});

describe('.env.example', () => {
  const example = Object.fromEntries(
    readFileSync(`${root}.env.example`, 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );

  it('is production-shaped: used as it is, the service refuses to start until a JWT secret is set', () => {
    expect(example.NODE_ENV).toBe('production');
    expect(example.JWT_SECRET).toBe('');
    expect(() => parseConfig(example)).toThrow(/JWT_SECRET/);
    expect(() => parseConfig({ ...example, JWT_SECRET: 'f'.repeat(64) })).toThrow(/CONSENT_HMAC_KEY/);
    expect(parseConfig({ ...example, JWT_SECRET: 'f'.repeat(64), CONSENT_HMAC_KEY: 'e'.repeat(64) }).NODE_ENV).toBe('production');
  });

  it('names the service role and passwords, not the superuser or a password-less Redis', () => {
    expect(new URL(example.DATABASE_URL!).username).toBe('credit_app');
    expect(new URL(example.REDIS_URL!).password).not.toBe('');
  });
});
