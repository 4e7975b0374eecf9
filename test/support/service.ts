// The service, in this test process, for the tests of one file: started before them, stopped after.
import { afterAll, beforeAll } from 'vitest';
import { startService, type RunningService, type ServiceOptions } from '../../src/service.ts';

/**
 * API and worker by default; `url` is set once the service listens. Options may be a function,
 * read when the service starts (after the file's earlier beforeAll hooks).
 */
export function serviceForTests(options: Partial<ServiceOptions> | (() => Partial<ServiceOptions>) = {}) {
  const handle = { url: '', adminUrl: '' };
  let service: RunningService;
  beforeAll(async () => {
    service = await startService({ api: true, worker: true, port: 0, ...(typeof options === 'function' ? options() : options) });
    handle.url = service.url ?? '';
    handle.adminUrl = service.adminUrl;
  });
  afterAll(() => service.close());
  return handle;
}
