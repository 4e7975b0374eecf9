// The layer rule (.dependency-cruiser.cjs), run exactly as `npm test` runs it: it passes on src/
// and fails on an upward import, even a type-only one, in a fixture laid out like src/.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function cruise(path: string) {
  const run = spawnSync(process.execPath, ['node_modules/.bin/depcruise', path, '--config', '.dependency-cruiser.cjs'], { encoding: 'utf8' });
  return { exitCode: run.status, output: run.stdout + run.stderr };
}

// A process each (a few seconds, more on a busy machine).
describe('the layer rule', { timeout: 30_000 }, () => {
  it('finds no import against the arrows in src/', () => {
    const { exitCode, output } = cruise('src');
    expect(output).toContain('no dependency violations found');
    expect(exitCode).toBe(0);
  });

  it('fails on a domain module that imports the realtime layer (type-only)', () => {
    const { exitCode, output } = cruise('test/fixtures/upward-import/src');
    expect(output).toContain(
      'error domain-imports-only-platform: test/fixtures/upward-import/src/domain/rule.ts → test/fixtures/upward-import/src/realtime/stream.ts',
    );
    expect(output).toContain('1 dependency violations (1 errors');
    expect(exitCode).toBe(1);
  });
});
