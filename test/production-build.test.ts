// The production build, as the image runs it: `npm run build`, then plain `node dist/src/main.js api|worker`
// with NODE_ENV=production (no tsx). The demo flow runs against it; the compiled code imports no
// development dependency (the image installs production dependencies only); /health, /ready and
// the admin port's /metrics answer.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, stopGracefully } from './support/processes.ts';
import { waitUntil } from './support/wait.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const JWT_SECRET = 'production-build-test-secret-0123456789abcdef';
const env = { ...process.env, NODE_ENV: 'production', JWT_SECRET, CONSENT_HMAC_KEY: 'production-build-test-consent-key-0123456789', LOG_LEVEL: 'warn' };
const ports = { api: 0, apiAdmin: 0, workerAdmin: 0 };
const services: ChildProcess[] = [];

beforeAll(async () => {
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, encoding: 'utf8' });
  expect(build.status, `${build.stdout}\n${build.stderr}`).toBe(0);
  Object.assign(ports, { api: await freePort(), apiAdmin: await freePort(), workerAdmin: await freePort() });
  // As the image runs them (compose): the API and the worker, each its own process.
  for (const role of ['api', 'worker']) {
    services.push(
      spawn(process.execPath, ['dist/src/main.js', role], {
        cwd: root,
        env: { ...env, PORT: String(ports.api), API_ADMIN_PORT: String(ports.apiAdmin), WORKER_ADMIN_PORT: String(ports.workerAdmin) },
        stdio: ['ignore', 'ignore', 'inherit'],
      }),
    );
  }
  const health = (port: number) => () => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
  await waitUntil(health(ports.api), 'the API of the production build', 60_000);
  await waitUntil(health(ports.workerAdmin), 'the worker of the production build', 60_000);
}, 300_000);

afterAll(async () => {
  for (const child of services) expect(await stopGracefully(child)).toBe(0);
});

/** Bare module names the compiled files import (static and dynamic), outside the generated Prisma client's relative ones. */
function importedPackages(dir: string, found = new Set<string>()): Set<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) importedPackages(path, found);
    else if (entry.name.endsWith('.js')) {
      const text = readFileSync(path, 'utf8');
      for (const match of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"./][^'"]*)['"]/g)) {
        const specifier = match[1]!;
        if (specifier.startsWith('node:') || builtinModules.includes(specifier)) continue;
        found.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
      }
    }
  }
  return found;
}

describe('the production build', () => {
  it('imports production dependencies only', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const imported = [...importedPackages(join(root, 'dist/src'))];
    expect(imported.length).toBeGreaterThan(10);
    expect(imported.filter((name) => !(name in manifest.dependencies))).toEqual([]);
  });

  it('runs the demo flow, and answers /ready and the admin ports', { timeout: 120_000 }, async () => {
    // Not spawnSync: a blocked event loop would reuse keep-alive sockets the servers closed meanwhile.
    const demo = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--url', `http://127.0.0.1:${ports.api}`], {
      cwd: root,
      env: { ...process.env, JWT_SECRET },
      timeout: 90_000,
    });
    expect(demo.stdout).toMatch(/#\d+ DEPLOYED\s+DEPLOYED/);

    expect((await fetch(`http://127.0.0.1:${ports.api}/ready`)).status).toBe(200);
    const api = await (await fetch(`http://127.0.0.1:${ports.apiAdmin}/metrics`)).text();
    expect(api).toMatch(/^graphql_requests_total\{.*operationName="DemoAcceptOffer".*\} 1$/m);
    const worker = await (await fetch(`http://127.0.0.1:${ports.workerAdmin}/metrics`)).text();
    expect(worker).toMatch(/^credit_deployments_ended_total\{outcome="DEPLOYED",failure_code=""\} 1$/m);
  });
});
