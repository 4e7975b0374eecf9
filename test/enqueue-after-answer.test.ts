// An accept answers before its job's add is done (the add is best effort and backed by the
// reconciler): a stop right after the answer must not cut the add off. Closing the deployment
// queue waits for the adds still under way, so the job is in Redis after the stop.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { enqueueDeploymentAfterAnswer } from '../src/jobs/producers.ts';
import { closeQueue, createDeploymentQueue } from '../src/jobs/queues.ts';
import { captureLogs } from './support/logs.ts';
import { testConfig as config, testRedis } from './support/settings.ts';

const queues = { redis: testRedis, prefix: config.REDIS_PREFIX };
const retry = { backoffMs: 100, maxBackoffMs: 100, retryHorizonMs: 0 };
const reader = createDeploymentQueue(queues, retry);
afterAll(() => closeQueue(reader));

describe('a deployment enqueued after the answer', () => {
  it('is in the queue after the queue is closed at once', async () => {
    const { logger, entries } = captureLogs();
    const ids = Array.from({ length: 20 }, () => randomUUID());
    const queue = createDeploymentQueue(queues, retry);
    for (const id of ids) enqueueDeploymentAfterAnswer(queue, { id, correlationId: `close-${id}` }, logger);
    await closeQueue(queue);

    const jobs = await Promise.all(ids.map((id) => reader.getJob(id)));
    expect(jobs.map((job) => job?.data.deploymentId ?? null)).toEqual(ids);
    expect(entries.map((entry) => entry.msg).filter((msg) => msg?.includes('could not enqueue'))).toEqual([]);
    await Promise.all(jobs.map((job) => job?.remove()));
  });
});
