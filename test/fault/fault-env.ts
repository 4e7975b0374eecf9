// The fault suites' test process talks to the service only over HTTP and to its own throwaway
// servers; what it imports from src (token signing) needs nothing but a quiet test setting.
Object.assign(process.env, { NODE_ENV: 'test', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' });
