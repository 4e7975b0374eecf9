// Registering persisted operations over the admin port, so that an app's CI can publish its
// manifest with a token of the `operations-publisher` role and no database credentials:
//   POST /operations/<client>/<version>   (body: the manifest, Apollo's format or codegen's)
// The same checks as `npm run operations:register`; every registration and refusal is logged with
// the token's subject.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from 'pino';
import type { Registration } from '../domain/operation-registry.ts';
import { clientVersionRefusal, type ClientVersion } from '../domain/operation-registry.ts';
import type { AdminAuth } from './admin-server.ts';
import { ManifestRefused } from './operation-manifest.ts';

export const PUBLISHER_ROLE = 'operations-publisher';
/** Manifests of thousands of operations fit; anything larger is not one. */
const MAX_MANIFEST_BYTES = 5 * 1024 * 1024;

export interface OperationsEndpointDeps {
  authenticate: AdminAuth;
  register: (clientVersion: ClientVersion, manifest: unknown) => Promise<Registration>;
  logger: Logger;
}

export function operationsEndpoint({ authenticate, register, logger }: OperationsEndpointDeps): Hono {
  const log = logger.child({ component: 'operations-registry' });
  const app = new Hono();
  app.post(
    '/:client/:version',
    async (c, next) => {
      const auth = await authenticate(c.req.header('authorization') ?? null);
      if (!auth.viewer) return c.json({ error: `authentication required: ${auth.reason}` }, 401);
      if (!auth.viewer.roles.includes(PUBLISHER_ROLE)) return c.json({ error: `this needs the role ${PUBLISHER_ROLE}` }, 403);
      c.set('subject' as never, auth.viewer.userId as never);
      await next();
    },
    bodyLimit({ maxSize: MAX_MANIFEST_BYTES, onError: (c) => c.json({ error: `a manifest is at most ${MAX_MANIFEST_BYTES} bytes` }, 413) }),
    async (c) => {
      const subject = c.get('subject' as never) as string;
      const clientVersion = { client: c.req.param('client'), version: c.req.param('version') };
      const entry = { subject, ...clientVersion };
      const refusal = clientVersionRefusal(clientVersion);
      if (refusal) return c.json({ error: refusal }, 400);
      let manifest: unknown;
      try {
        manifest = await c.req.json();
      } catch {
        return c.json({ error: 'the body must be the manifest, as JSON' }, 400);
      }
      try {
        const registration = await register(clientVersion, manifest);
        log.info({ ...entry, operations: registration.hashes.length, added: registration.added }, 'persisted operations registered');
        return c.json({ ...clientVersion, operations: registration.hashes.length, added: registration.added, alreadyRegistered: registration.alreadyRegistered });
      } catch (error) {
        if (!(error instanceof ManifestRefused)) throw error;
        log.warn({ ...entry, problems: error.problems }, 'persisted operations refused');
        return c.json({ error: 'the manifest was refused, nothing was registered', problems: error.problems }, 422);
      }
    },
  );
  return app;
}
