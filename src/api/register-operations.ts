// Registering a client version's manifest: read and checked against the served schema and the
// document limits (all or nothing), stored, then announced to the API processes. The same path
// for `npm run operations:register`, the admin port's endpoint, and the first-party manifest at start.
import { registerOperations, type ClientVersion, type Registration } from '../domain/operation-registry.ts';
import type { RedisClient } from '../platform/redis.ts';
import { schema } from '../schema/index.ts';
import { FIRST_PARTY_CLIENT, firstPartyManifest } from './first-party-client.ts';
import type { DocumentLimits } from './document-limits.ts';
import { readManifest } from './operation-manifest.ts';
import { announceRegistration } from './persisted-operations.ts';

export interface RegistrationSettings {
  limits: DocumentLimits;
  /** Where registrations are announced: a connection that may publish, and the service's Redis prefix. */
  redis: RedisClient;
  prefix: string;
}

/** Registers the manifest for the client version; ManifestRefused when any operation is bad. */
export async function registerManifest(
  settings: RegistrationSettings,
  clientVersion: ClientVersion,
  manifest: unknown,
): Promise<Registration & { announced: boolean }> {
  const operations = readManifest(manifest, schema, settings.limits);
  const registration = await registerOperations(clientVersion, operations);
  // Stored is registered: without the announcement, processes still see it within seconds.
  const announced = await announceRegistration(settings.redis, settings.prefix, registration.hashes).then(
    () => true,
    () => false,
  );
  return { ...registration, announced };
}

export function registerFirstPartyManifest(settings: RegistrationSettings) {
  return registerManifest(settings, FIRST_PARTY_CLIENT, firstPartyManifest);
}
