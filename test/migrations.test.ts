// The committed migrations must produce exactly the schema in prisma/schema.prisma.
// Runs the real Prisma CLI (through scripts/prisma.mjs and its wasm schema engine stand-in),
// which replays prisma/migrations on a temporary shadow database and diffs the result.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describe, it, expect } from 'vitest';
import { dedupeKey } from '../src/domain/notifications.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const schemaPath = path.join(root, 'prisma/schema.prisma');

// The diff reads nothing from the configured database: it only needs a server on which to
// create (and drop) its shadow database. Use that server's maintenance database, which always
// exists, so the test does not depend on the development database having been created.
// (The fallback is src/platform/config.ts's default DATABASE_URL.)
const configuredUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/credit_deployment';
const serverUrl = Object.assign(new URL(configuredUrl), { pathname: '/postgres' }).toString();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node scripts/prisma.mjs ...args` in the project root. */
function prisma(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/prisma.mjs', ...args], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: serverUrl },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `migrate diff` from the migrations directory to a schema file; exit code 2 = differences. */
function diffMigrationsTo(schema: string, ...extraArgs: string[]): Promise<Run> {
  return prisma('migrate', 'diff', '--from-migrations', 'prisma/migrations', '--to-schema', schema, '--exit-code', ...extraArgs);
}

describe('prisma/migrations', () => {
  it('are in sync with prisma/schema.prisma', { timeout: 60_000 }, async () => {
    const run = await diffMigrationsTo('prisma/schema.prisma');
    expect(run.code, run.stderr + run.stdout).toBe(0);
  });

  it('are reported out of sync with a schema that has one more column', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'migrations-test-'));
    try {
      const schema = await readFile(schemaPath, 'utf8');
      const changed = schema.replace(
        /^model User \{\n/m,
        (line) => `${line}  migrationTestProbe String? @map("migration_test_probe")\n`,
      );
      expect(changed).not.toBe(schema);
      const copy = path.join(dir, 'schema.prisma');
      await writeFile(copy, changed);

      const run = await diffMigrationsTo(copy, '--script');
      expect(run.code, run.stderr + run.stdout).toBe(2);
      expect(run.stdout).toMatch(/ALTER TABLE "users" ADD COLUMN\s+"migration_test_probe" TEXT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// The tables held as SQL that Prisma cannot express: partitioned ones (docs/data-retention.md).
// Prisma sees each as its parent table alone (the partitions are not in its view), so the diff
// above checks the parent's columns and keys; this list is what says the rest is meant.
const PARTITIONED = { outbox_events: 'outbox_events_default' } as const;
/** The migration that partitions the outbox: the rows-kept test migrates a filled database across it. */
const FIRST_PARTITIONING = '20261206050000_outbox_partitioned_by_day';

const migrationsDir = path.join(root, 'prisma/migrations');

async function migrationFolders(): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  return (await readdir(migrationsDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

/** A throwaway database on the test server, dropped after `work`. */
async function withDatabase(work: (db: pg.Client) => Promise<void>) {
  const name = `credit_migration_rows_${Date.now().toString(36)}_${process.pid}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const db = new pg.Client({ connectionString: Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString() });
  try {
    await db.connect();
    await work(db);
  } finally {
    await db.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
  }
}

/** Each migration's SQL, run as Prisma runs it: the whole file as one script. */
async function applyMigrations(db: pg.Client, folders: string[]) {
  for (const folder of folders) await db.query(await readFile(path.join(migrationsDir, folder, 'migration.sql'), 'utf8'));
}

const tablesOf = async (db: pg.Client) =>
  (
    await db.query<{ name: string }>(
      `SELECT relname AS name FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')
          AND NOT relispartition AND relname <> '_prisma_migrations' ORDER BY 1`,
    )
  ).rows.map((r) => r.name);

/**
 * Every table's rows, as text (count and a digest of the sorted rows). `as` reads a column through
 * an expression (a column whose type a migration changes, read as the migration makes it).
 */
async function contents(db: pg.Client, as: Record<string, Record<string, string>> = {}): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const table of await tablesOf(db)) {
    const changed = Object.entries(as[table] ?? {});
    const row = changed.length === 0 ? 't' : `jsonb_set(to_jsonb(t), '{${changed[0]![0]}}', to_jsonb(${changed[0]![1]}))`;
    if (changed.length > 1) throw new Error('one changed column per table');
    const { rows } = await db.query(
      `SELECT count(*)::int AS n, md5(coalesce(string_agg(${row}::text, '|' ORDER BY ${row}::text), '')) AS digest FROM "${table}" t`,
    );
    result[table] = `${rows[0].n} rows, ${rows[0].digest}`;
  }
  return result;
}

/** A few rows in every table, events over several days (sent and unsent). */
const SEED = `
  INSERT INTO users (id, locale, last_event_sequence) VALUES ('u1', 'en', 3), ('u2', NULL, 1);
  INSERT INTO credit_profiles (user_id, currency, limit_cents, available_cents, interest_rate_bps) VALUES ('u1', 'BRL', 500000, 500000, 250);
  INSERT INTO credit_offers (id, user_id, limit_cents, interest_rate_bps, currency, status, expires_at, external_ref)
    VALUES ('00000000-0000-4000-8000-000000000001', 'u1', 500000, 250, 'BRL', 'DEPLOYED', now() + interval '1 day', 'ref-1'),
           ('00000000-0000-4000-8000-000000000002', 'u2', 100000, 300, 'BRL', 'EXPIRED', now() - interval '1 day', NULL);
  INSERT INTO credit_deployments (id, offer_id, user_id, status, currency, new_limit_cents, correlation_id, last_sequence, completed_at)
    VALUES ('00000000-0000-4000-8000-0000000000d1', '00000000-0000-4000-8000-000000000001', 'u1', 'DEPLOYED', 'BRL', 500000, 'c1', 2, now());
  INSERT INTO deployment_events (deployment_id, sequence, type, status, correlation_id, detail)
    VALUES ('00000000-0000-4000-8000-0000000000d1', 1, 'queued', 'QUEUED', 'c1', NULL),
           ('00000000-0000-4000-8000-0000000000d1', 2, 'deployed', 'DEPLOYED', 'c1', '{"a": 1}');
  INSERT INTO acceptance_consents (id, offer_id, user_id, accepted_at, ip_address, user_agent, terms, terms_hash, correlation_id, evidence_hmac, hmac_key_id)
    VALUES ('00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-000000000001', 'u1', now(), '203.0.113.1', 'ua', '{"limit": 1}',
            repeat('a', 64), 'c1', repeat('b', 64), 'k1');
  INSERT INTO devices (id, user_id, token, platform) VALUES ('00000000-0000-4000-8000-0000000000e1', 'u1', 'tok-1', 'ANDROID');
  INSERT INTO notifications (id, user_id, kind, status, title, body, deep_link, dedupe_key, deployment_id, offer_id, correlation_id)
    VALUES ('00000000-0000-4000-8000-0000000000f1', 'u1', 'CREDIT_DEPLOYED', 'DELIVERED', 't', 'b', 'l', 'CREDIT_DEPLOYED:00000000-0000-4000-8000-0000000000d1',
            '00000000-0000-4000-8000-0000000000d1', NULL, 'c1'),
           ('00000000-0000-4000-8000-0000000000f2', 'u2', 'OFFER_EXPIRED', 'PENDING', 't', 'b', 'l', 'OFFER_EXPIRED:00000000-0000-4000-8000-000000000002',
            NULL, '00000000-0000-4000-8000-000000000002', 'c2');
  INSERT INTO notification_deliveries (notification_id, channel, status, device_id, provider_message_id)
    VALUES ('00000000-0000-4000-8000-0000000000f1', 'PUSH', 'SENT', '00000000-0000-4000-8000-0000000000e1', 'projects/p/messages/1');
  INSERT INTO push_attempts (notification_id, device_id) VALUES ('00000000-0000-4000-8000-0000000000f1', '00000000-0000-4000-8000-0000000000e1');
  INSERT INTO notification_preferences (user_id) VALUES ('u1');
  INSERT INTO notification_channel_settings (user_id, category, channel, enabled) VALUES ('u1', 'OFFERS', 'PUSH', false);
  INSERT INTO outbox_events (id, user_id, sequence, type, occurred_at, payload, sent_at)
    VALUES ('00000000-0000-4000-8000-0000000000a1', 'u1', 1, 'credit.limit.changed', now() - interval '3 days', '{"n": 1}', now() - interval '3 days'),
           ('00000000-0000-4000-8000-0000000000a2', 'u1', 2, 'credit.limit.changed', now() - interval '1 day', '{"n": 2}', now()),
           ('00000000-0000-4000-8000-0000000000a3', 'u1', 3, 'credit.limit.changed', now(), '{"n": 3}', NULL),
           ('00000000-0000-4000-8000-0000000000a4', 'u2', 1, 'credit.offer.expired', now() - interval '40 days', '{"n": 4}', NULL);
  INSERT INTO insights_credit_history (id, user_id, sequence, at, reason, currency, new_limit_cents, available_cents)
    VALUES ('00000000-0000-4000-8000-0000000000a1', 'u1', 1, now(), 'OFFER_ACCEPTED', 'BRL', 500000, 500000);
  INSERT INTO insights_users (user_id, last_sequence, limit_cents) VALUES ('u1', 1, 500000);
  INSERT INTO limit_changes (id, user_id, type, status, currency, new_limit_cents, decision_sequence, effective_at, requested_by, correlation_id)
    VALUES ('00000000-0000-4000-8000-0000000000b1', 'u1', 'DECREASE', 'SCHEDULED', 'BRL', 300000, 1, now() + interval '30 days', 'ops', 'c3');
  INSERT INTO limit_change_events (change_id, type, actor, correlation_id) VALUES ('00000000-0000-4000-8000-0000000000b1', 'scheduled', 'ops', 'c3');
  INSERT INTO credit_line_changes (id, user_id, at, reason, currency, new_limit_cents, available_cents)
    VALUES ('00000000-0000-4000-8000-0000000000b2', 'u1', now(), 'OFFER_ACCEPTED', 'BRL', 500000, 500000);
  INSERT INTO persisted_operations (hash, body, name, type) VALUES ('h1', 'query Q { me { id } }', 'Q', 'query');
  INSERT INTO operation_registrations (client_name, client_version, hash) VALUES ('app', '1.0', 'h1');`;

describe('the partitioned tables', () => {
  it('are partitioned as the migrations say, with a default partition, and only those', { timeout: 60_000 }, async () => {
    await withDatabase(async (db) => {
      await applyMigrations(db, await migrationFolders());
      const { rows } = await db.query<{ parent: string; partitions: string[] }>(
        `SELECT p.relname AS parent, array_agg(c.relname::text ORDER BY c.relname) AS partitions
           FROM pg_class p JOIN pg_inherits i ON i.inhparent = p.oid JOIN pg_class c ON c.oid = i.inhrelid
          WHERE p.relkind = 'p' AND p.relnamespace = 'public'::regnamespace GROUP BY p.relname ORDER BY 1`,
      );
      expect(rows.map((r) => r.parent)).toEqual(Object.keys(PARTITIONED));
      for (const { parent, partitions } of rows) expect(partitions).toContain(PARTITIONED[parent as keyof typeof PARTITIONED]);
    });
  });

  it('a database holding rows in every table is migrated to them without losing or changing a row', { timeout: 60_000 }, async () => {
    const folders = await migrationFolders();
    expect(folders).toContain(FIRST_PARTITIONING);
    await withDatabase(async (db) => {
      await applyMigrations(db, folders.filter((f) => f < FIRST_PARTITIONING));
      await db.query(SEED);
      // The dedupe key of a notification becomes the MD5 of its text as a UUID (20261207220000).
      const dedupeKeyAsMigrated = { notifications: { dedupe_key: 'md5(t.dedupe_key)::uuid' } };
      const before = await contents(db, dedupeKeyAsMigrated);
      const empty = Object.entries(before).filter(([, c]) => c.startsWith('0 rows')).map(([table]) => table);
      expect(empty, 'tables the seed leaves empty').toEqual([]);

      await applyMigrations(db, folders.filter((f) => f >= FIRST_PARTITIONING));

      expect(await contents(db, { notifications: { dedupe_key: 't.dedupe_key' } })).toEqual(before);
      // A notification written before keeps the key the service now computes for its event: a job
      // that runs again for that event still finds it and creates no second one.
      const keys = await db.query(`SELECT id::text AS id, dedupe_key::text AS key FROM notifications ORDER BY id`);
      expect(keys.rows).toEqual([
        { id: '00000000-0000-4000-8000-0000000000f1', key: dedupeKey('CREDIT_DEPLOYED', '00000000-0000-4000-8000-0000000000d1') },
        { id: '00000000-0000-4000-8000-0000000000f2', key: dedupeKey('OFFER_EXPIRED', '00000000-0000-4000-8000-000000000002') },
      ]);
      // Each event is in its day's partition, none in the default one.
      const { rows } = await db.query<{ part: string; day: string }>(
        `SELECT tableoid::regclass::text AS part, to_char(occurred_at, 'YYYYMMDD') AS day FROM outbox_events ORDER BY occurred_at`,
      );
      expect(rows).toHaveLength(4);
      for (const { part, day } of rows) expect(part).toBe(`outbox_events_p${day}`);
    });
  });
});
