// The alert rules are valid Prometheus rules, their unit tests (monitoring/alerts.test.yml) pass,
// and each alert has its runbook section in docs/operations.md. That every metric a rule names
// is really exported is checked against live scrapes in metrics.test.ts.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const promtool = (...args: string[]) => spawnSync('promtool', args, { cwd: root, encoding: 'utf8' });

describe('alert rules', () => {
  it('pass `promtool check rules`', { timeout: 30_000 }, () => {
    const run = promtool('check', 'rules', 'monitoring/alerts.yml');
    expect(run.error, 'promtool is missing: .ci/run installs the prometheus package').toBeUndefined();
    expect(run.stdout + run.stderr).toContain('SUCCESS');
    expect(run.status).toBe(0);
  });

  it('pass their unit tests (`promtool test rules`)', { timeout: 30_000 }, () => {
    const run = promtool('test', 'rules', 'monitoring/alerts.test.yml');
    expect(run.stdout + run.stderr).toContain('SUCCESS');
    expect(run.status).toBe(0);
  });

  it('each have a runbook section that the rule links to', () => {
    const rules = readFileSync(`${root}/monitoring/alerts.yml`, 'utf8');
    const runbook = readFileSync(`${root}/docs/operations.md`, 'utf8');
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
    expect(alerts.length).toBeGreaterThanOrEqual(7);
    for (const alert of alerts) {
      expect(runbook, alert).toMatch(new RegExp(`^### ${alert}$`, 'm'));
      expect(rules, alert).toContain(`runbook: docs/operations.md#${alert.toLowerCase()}`);
    }
  });
});
