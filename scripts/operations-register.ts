// Registers a client version's persisted operations from its manifest (Apollo's persisted query
// manifest, or codegen's persisted-documents map), with the service's own settings:
//   npm run operations:register -- --client <name> --version <v> <manifest.json>
// Every operation is checked against the served schema and the document limits first: one bad
// operation refuses the whole manifest (exit 1, each bad one named) and nothing is stored.
import { readFileSync } from 'node:fs';
import { registerManifest } from '../src/api/register-operations.ts';
import { commandArguments, withService } from './operations-cli.ts';

const USAGE = 'usage: npm run operations:register -- --client <name> --version <version> <manifest.json>';
const { values, positionals } = commandArguments({ client: { type: 'string' }, version: { type: 'string' } }, USAGE, true);
if (!values.client || !values.version || positionals.length !== 1) {
  console.error(USAGE);
  process.exit(2);
}

let manifest: unknown;
try {
  manifest = JSON.parse(readFileSync(positionals[0]!, 'utf8'));
} catch (error) {
  console.error(`cannot read the manifest ${positionals[0]}: ${(error as Error).message}`);
  process.exit(2);
}

await withService(async ({ limits, redis, prefix }) => {
  const result = await registerManifest({ limits, redis, prefix }, { client: values.client!, version: values.version! }, manifest);
  console.log(
    `${values.client} ${values.version}: ${result.hashes.length} operations registered ` +
      `(${result.added} new to the registry, ${result.alreadyRegistered} already registered for this version)` +
      (result.announced ? '' : '; Redis did not take the announcement: the API processes see them within seconds'),
  );
});
