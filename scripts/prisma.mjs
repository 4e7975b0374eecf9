#!/usr/bin/env node
// Runs the project's Prisma CLI with PRISMA_SCHEMA_ENGINE_BINARY pointing at our stand-in
// schema engine (scripts/prisma-schema-engine.mjs), so `prisma migrate ...` and
// `prisma generate` work without the native engine, which cannot be downloaded here.
// Usage: node scripts/prisma.mjs <prisma arguments>   (npm run prisma -- <arguments>)

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const engine = fileURLToPath(new URL('./prisma-schema-engine.mjs', import.meta.url));
const cli = fileURLToPath(new URL('../node_modules/prisma/build/index.js', import.meta.url));

const child = spawn(process.execPath, [cli, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: engine },
});

// Ctrl-C already reaches the CLI (same process group): just outlive it. Forward SIGTERM.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));

child.on('error', (error) => {
  console.error(`Could not run the Prisma CLI: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
