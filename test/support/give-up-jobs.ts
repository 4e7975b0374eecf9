// BullMQ giving up on deployment jobs, as it does when a job stalls too often: a worker of the
// test's own that fails each job for good (UnrecoverableError), then stops.
import { UnrecoverableError, Worker } from 'bullmq';
import { DEPLOYMENT_QUEUE, type DeploymentJob } from '../../src/jobs/queues.ts';
import { testConfig } from './settings.ts';

/** Resolves once BullMQ has failed the jobs of these deployments for good. */
export async function giveUpDeploymentJobs(deploymentIds: readonly string[]): Promise<void> {
  const { hostname, port } = new URL(testConfig.REDIS_URL);
  const left = new Set(deploymentIds);
  await new Promise<void>((resolve) => {
    const worker = new Worker<DeploymentJob>(
      DEPLOYMENT_QUEUE,
      async () => {
        throw new UnrecoverableError('the job was given up');
      },
      { connection: { host: hostname, port: Number(port || 6379), maxRetriesPerRequest: null }, prefix: testConfig.REDIS_PREFIX },
    );
    worker.on('failed', (job) => {
      if (job) left.delete(job.id!);
      if (left.size === 0) void worker.close().then(resolve);
    });
  });
}
