// Retires a client version: removes its registrations, and the operations no other registered
// version uses. Refused while the version was used within OPERATIONS_RETIRE_UNUSED_DAYS (30 by
// default), unless --force:
//   npm run operations:retire -- --client <name> --version <v> [--force]
import { retireClientVersion } from '../src/domain/operation-registry.ts';
import { announceRegistration } from '../src/api/persisted-operations.ts';
import { commandArguments, withService } from './operations-cli.ts';

const USAGE = 'usage: npm run operations:retire -- --client <name> --version <version> [--force]';
const { values } = commandArguments({ client: { type: 'string' }, version: { type: 'string' }, force: { type: 'boolean', default: false } }, USAGE);
if (!values.client || !values.version) {
  console.error(USAGE);
  process.exit(2);
}
const clientVersion = { client: values.client, version: values.version };

await withService(async ({ retireUnusedDays, redis, prefix }) => {
  const usedSince = new Date(Date.now() - retireUnusedDays * 86_400_000);
  const result = await retireClientVersion(clientVersion, usedSince, values.force);
  if (!result.retired) {
    process.exitCode = 1;
    if (result.reason === 'unknown-version') return console.error(`${values.client} ${values.version} has no registered operations`);
    return console.error(
      `${values.client} ${values.version} was used at ${result.lastUsedAt.toISOString()}, within the last ${retireUnusedDays} days ` +
        '(OPERATIONS_RETIRE_UNUSED_DAYS): not retired. --force retires it anyway; its users then get PersistedQueryNotFound.',
    );
  }
  // The API processes drop the removed operations from their caches.
  await announceRegistration(redis, prefix, result.operationsRemoved).catch(() => undefined);
  console.log(`${values.client} ${values.version} retired: ${result.registrations} registrations, ${result.operationsRemoved.length} operations no other version uses removed`);
});
