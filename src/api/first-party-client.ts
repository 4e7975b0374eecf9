// This repository's own clients (the app's operations in app/, the demo's and the benchmark's), as
// codegen writes them into one manifest: registered like any client's, under one name, its
// version named by its content (a changed manifest is a new version; the old one can be retired).
import { createHash } from 'node:crypto';
import firstPartyManifest from '../generated/graphql/persisted-documents.json' with { type: 'json' };

export { firstPartyManifest };

export const FIRST_PARTY_CLIENT = {
  client: 'credit-service',
  version: `manifest-${createHash('sha256').update(JSON.stringify(firstPartyManifest)).digest('hex').slice(0, 12)}`,
};
