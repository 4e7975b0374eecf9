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

/**
 * Registers the first-party manifest, and keeps trying every `retryMs` while the database cannot
 * be reached: an API process starts (and serves what earlier starts registered) without it.
 * `first` settles after the first attempt, whatever its outcome.
 */
export function registerFirstPartyUntilDone(
  settings: RegistrationSettings,
  { retryMs, registered, failed }: { retryMs: number; registered: (registration: Registration) => void; failed: (error: unknown) => void },
) {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const attempt = (): Promise<void> =>
    registerFirstPartyManifest(settings).then(registered, (error: unknown) => {
      failed(error);
      if (stopped) return;
      timer = setTimeout(() => void attempt(), retryMs);
      timer.unref();
    });
  return {
    first: attempt(),
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
