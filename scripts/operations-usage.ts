// Lists, per client version, the persisted operations it registered and when it last used each
// ("never" when it has not since registering):
//   npm run operations:usage [-- --client <name>] [--version <v>]
import { operationUsage } from '../src/domain/operation-registry.ts';
import { commandArguments, withService } from './operations-cli.ts';

const USAGE = 'usage: npm run operations:usage [-- --client <name>] [--version <version>]';
const { values } = commandArguments({ client: { type: 'string' }, version: { type: 'string' } }, USAGE);

await withService(async () => {
  const rows = await operationUsage({ client: values.client, version: values.version });
  if (rows.length === 0) {
    console.log('no registered operations');
    return;
  }
  let current = '';
  for (const row of rows) {
    const heading = `${row.client} ${row.version}`;
    if (heading !== current) {
      const lastUsed = rows
        .filter((r) => r.client === row.client && r.version === row.version && r.lastUsedAt)
        .reduce<Date | null>((latest, r) => (!latest || r.lastUsedAt! > latest ? r.lastUsedAt : latest), null);
      console.log(`${heading} (last used ${lastUsed?.toISOString() ?? 'never'})`);
      current = heading;
    }
    console.log(`  ${row.operation.padEnd(32)} ${row.type.padEnd(12)} ${row.lastUsedAt?.toISOString() ?? 'never'}  ${row.hash}`);
  }
});
