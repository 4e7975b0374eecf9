// The service, in this test process, for the tests of one file: started before them, stopped after.
import { afterAll, beforeAll } from 'vitest';
import { startService, type RunningService, type ServiceOptions } from '../../src/service.ts';

/** API and worker by default; `url` is set once the service listens. */
export function serviceForTests(options: Partial<ServiceOptions> = {}) {
  const handle = { url: '' };
  let service: RunningService;
  beforeAll(async () => {
    service = await startService({ api: true, worker: true, port: 0, ...options });
    handle.url = service.url ?? '';
  });
  afterAll(() => service.close());
  return handle;
}
