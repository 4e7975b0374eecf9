// The layers of src/, one folder each; imports (type-only ones too) point only downward:
//   main.ts, service.ts, settings.ts (the entries, the only readers of the configuration) -> anything
//   api/      -> schema, realtime, domain, platform
//   schema/   -> jobs/queues.ts and jobs/producers.ts (acceptOffer enqueues), realtime, domain, platform
//   and within jobs/, only after-commit.ts adds jobs (producers.ts): what follows a commit has one owner
//   jobs/     -> domain, realtime, push, platform
//   events/   -> domain, platform   (the outbox relay, the stream publisher, the example consumer)
//   realtime/, push/ -> domain, platform   (siblings: never each other)
//   domain/   -> platform
//   platform/ -> nothing of the service's own
// `npm test` runs this (npm run lint:layers); test/unit/layers.test.ts proves it catches an upward import.
const layer = (name) => `src/${name}/`;
const entries = 'src/(main|service|settings)[.]ts$';
const above = (...names) => [...names.map(layer), entries];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'platform-knows-no-service', severity: 'error', from: { path: layer('platform') }, to: { path: above('domain', 'realtime', 'push', 'events', 'jobs', 'schema', 'api') } },
    { name: 'domain-imports-only-platform', severity: 'error', from: { path: layer('domain') }, to: { path: above('realtime', 'push', 'events', 'jobs', 'schema', 'api') } },
    { name: 'realtime-below-jobs', severity: 'error', from: { path: layer('realtime') }, to: { path: above('push', 'events', 'jobs', 'schema', 'api') } },
    { name: 'push-below-jobs', severity: 'error', from: { path: layer('push') }, to: { path: above('realtime', 'events', 'jobs', 'schema', 'api') } },
    {
      name: 'events-beside-jobs',
      comment: 'The downstream events (relay, stream publisher, example consumer) use the domain and the platform only; only the entries start them.',
      severity: 'error',
      from: { path: layer('events') },
      to: { path: above('realtime', 'push', 'jobs', 'schema', 'api') },
    },
    { name: 'jobs-below-schema', severity: 'error', from: { path: layer('jobs') }, to: { path: above('events', 'schema', 'api') } },
    {
      name: 'schema-uses-producers-only',
      comment: 'Resolvers enqueue through the producers; workers, processors and the reconciler are not theirs to touch.',
      severity: 'error',
      from: { path: layer('schema') },
      to: { path: [layer('jobs'), layer('api'), layer('push'), layer('events'), entries], pathNot: 'src/jobs/(queues|producers)[.]ts$' },
    },
    {
      name: 'after-commit-owns-enqueueing',
      comment: 'In the worker, what follows a commit (publish, first delivery step, enqueue) goes through jobs/after-commit.ts, with its one error policy.',
      severity: 'error',
      from: { path: layer('jobs'), pathNot: 'src/jobs/(after-commit|producers)[.]ts$' },
      to: { path: 'src/jobs/producers[.]ts$' },
    },
    { name: 'api-above-all-but-entries', severity: 'error', from: { path: layer('api') }, to: { path: [layer('jobs'), layer('push'), layer('events'), entries] } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'src/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
