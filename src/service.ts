// Starts the parts of the service a process runs (API, worker, or both) and stops them in order.
import { config } from './config.ts';
import { closeDeploymentQueue, createDeploymentQueue } from './jobs/queues.ts';
import { startDeploymentWorker } from './jobs/worker.ts';
import { logger } from './logger.ts';
import { Realtime } from './realtime/pubsub.ts';
import { createApiServer, databaseReady } from './server.ts';

export interface ServiceOptions {
  api: boolean;
  worker: boolean;
  port?: number;
  host?: string;
}

export interface RunningService {
  /** Base URL of the API, when this process serves it. */
  url: string | null;
  close(): Promise<void>;
}

export async function startService({ api, worker, port = config.PORT, host = config.HOST }: ServiceOptions): Promise<RunningService> {
  const realtime = new Realtime();
  const deploymentQueue = createDeploymentQueue();
  const services = { realtime, deploymentQueue };

  const deploymentWorker = worker ? startDeploymentWorker({ queue: deploymentQueue, realtime, logger }) : null;
  const apiServer = api
    ? createApiServer({
        services,
        logger,
        ready: async () => (await databaseReady()) && (await realtime.ping()),
      })
    : null;
  const url = apiServer ? await apiServer.listen(port, host) : null;
  logger.info({ url, worker }, 'service started');

  return {
    url,
    async close() {
      // Stop taking requests and end subscriptions, let running jobs finish, then close connections.
      await apiServer?.close();
      await deploymentWorker?.close();
      await closeDeploymentQueue(deploymentQueue);
      await realtime.close();
      logger.info('service stopped');
    },
  };
}
