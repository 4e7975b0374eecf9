// The service in this test process, started the one way every suite starts it: for the tests of
// a file (serviceForTests), or from a moment inside one test on (startServiceInTest).
import { afterAll, beforeAll, onTestFinished } from 'vitest';
import { startService, type RunningService, type ServiceOptions } from '../../src/service.ts';

type Options = Partial<ServiceOptions>;

// API and worker on free ports unless a suite says otherwise.
const withDefaults = (options: Options): ServiceOptions => ({ api: true, worker: true, port: 0, ...options });

/**
 * API and worker by default; `url` is set once the service listens. Options may be a function,
 * read when the service starts (after the file's earlier beforeAll hooks): a suite that needs a
 * backlog before its worker runs declares the worker between two beforeAll hooks.
 */
export function serviceForTests(options: Options | (() => Options) = {}) {
  const handle = { url: '', adminUrl: '' };
  let service: RunningService | undefined;
  beforeAll(async () => {
    service = await startService(withDefaults(typeof options === 'function' ? options() : options));
    handle.url = service.url ?? '';
    handle.adminUrl = service.adminUrl;
  });
  afterAll(() => service?.close());
  return handle;
}

/**
 * Starts a service now, inside a test: a worker that must run only from some point on (after a
 * backlog built up, after a connection dropped), or a start that is expected to fail. API and
 * worker by default, as serviceForTests. Stopped when the test ends, pass or fail; `close()`
 * stops it earlier (closing twice is harmless).
 */
export function startServiceInTest(options: Options = {}): Promise<RunningService> {
  const started = startService(withDefaults(options)).then((service) => {
    let closing: Promise<void> | undefined;
    return { ...service, close: () => (closing ??= service.close()) };
  });
  // Registered at once, while the test is surely current (the caller may be a callback).
  onTestFinished(async () => {
    const service = await started.catch(() => null);
    await service?.close();
  });
  return started;
}
