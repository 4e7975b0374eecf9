// The deployments' metrics, counted where a deployment's end or retry is committed.
import type { DeploymentFailureCode } from '../platform/db.ts';
import { counter, histogram } from '../platform/metrics.ts';

const ended = counter({
  name: 'credit_deployments_ended_total',
  help: 'Deployments that ended, by outcome (DEPLOYED, FAILED) and failure code',
  labelNames: ['outcome', 'failure_code'],
});

const acceptToDeployed = histogram({
  name: 'credit_deployment_duration_seconds',
  help: 'Time from the acceptance to DEPLOYED',
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
});

const retries = counter({
  name: 'credit_deployment_retries_total',
  help: 'Deployment attempts that failed transiently and were scheduled again, by cause (the public transient code)',
  labelNames: ['cause'],
});

const batchSize = histogram({
  name: 'credit_deployment_batch_size',
  help: 'Deployments a worker applied together in one transaction (its mean is sum / count)',
  buckets: [1, 2, 4, 8, 16, 32, 64, 128],
});

/** A batch of deployments handed to one transaction. */
export function countBatch(size: number) {
  batchSize.observe(size);
}

export function countDeployed(processingMs: number) {
  ended.inc({ outcome: 'DEPLOYED', failure_code: '' });
  acceptToDeployed.observe(processingMs / 1000);
}

export function countFailed(failureCode: DeploymentFailureCode) {
  ended.inc({ outcome: 'FAILED', failure_code: failureCode });
}

/** Retries scheduled, by the public code of what failed (DATABASE_UNAVAILABLE, DATABASE_BUSY, ...). */
export function countRetries(codes: readonly string[]) {
  for (const cause of codes) retries.inc({ cause });
}
