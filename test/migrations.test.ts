// The committed migrations must produce exactly the schema in prisma/schema.prisma.
// Runs the real Prisma CLI (through scripts/prisma.mjs and its wasm schema engine stand-in),
// which replays prisma/migrations on a temporary shadow database and diffs the result.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';

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
