// The service as `npm start` ran it before the supervisor: API and worker in one process, one
// event loop, from source through tsx. Only for the bench's before/after row (the drain and the
// one-user latency of the old default beside the new one).
import { loadConfig } from '../src/platform/config.ts';
import { createLogger } from '../src/platform/logger.ts';
import { startService } from '../src/service.ts';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL);
const service = await startService({ api: true, worker: true, config, logger });
process.once('SIGTERM', () => void service.close().then(() => process.exit(0)));
