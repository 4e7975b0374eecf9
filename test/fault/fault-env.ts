// The fault suites' test process talks to the service only over HTTP and to its own throwaway
// servers; what it imports from src (token signing) needs nothing but a quiet test setting.
// The service processes it spawns inherit this environment: three on one host, so each admin
// server takes a free port.
Object.assign(process.env, {
  NODE_ENV: 'test',
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  API_ADMIN_PORT: '0',
  WORKER_ADMIN_PORT: '0',
});
