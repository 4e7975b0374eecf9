// The persisted-documents manifest: what codegen makes of the app's operations (app/), the demo's
// and the benchmark's, byte for byte. (.ci/run also fails when the committed copy differs from
// what `npm ci` regenerates.)
import { readFileSync } from 'node:fs';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../codegen.ts';

const MANIFEST = 'src/generated/graphql/persisted-documents.json';

describe('the persisted-documents manifest', () => {
  it('is what codegen writes from the operations in the repository (run `npm run codegen`)', async () => {
    const outputs = await generate({ ...config, silent: true }, false);
    const manifest = outputs.find((o: { filename: string }) => o.filename.endsWith('persisted-documents.json'));
    expect(manifest?.content).toBeDefined();
    expect(JSON.parse(manifest!.content)).toEqual(JSON.parse(readFileSync(new URL(`../${MANIFEST}`, import.meta.url), 'utf8')));
  });

  it("holds the app's screens and actions", async () => {
    const names = Object.values(JSON.parse(readFileSync(new URL(`../${MANIFEST}`, import.meta.url), 'utf8')) as Record<string, string>).map(
      (document) => /(?:query|mutation|subscription) (\w+)/.exec(document)?.[1],
    );
    for (const name of ['AppProfile', 'AppOffers', 'AppAcceptOffer', 'AppDeclineOffer', 'AppDeploymentStream', 'AppNotifications', 'AppNotificationStream', 'AppAcknowledgeNotification', 'AppRegisterDevice', 'DemoAcceptOffer', 'BenchAcceptOffer']) {
      expect(names).toContain(name);
    }
  });
});
