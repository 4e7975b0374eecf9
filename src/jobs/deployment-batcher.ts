// Group commit of the deployment jobs: the jobs a worker runs at once hand their deployment to
// the batcher, which applies whatever is ready together, in one transaction (applyDeployments),
// then hands what the batch committed to afterCommit in one go (when batches start: batches.ts).
// Each job gets its own deployment's outcome. Whose turn it is, and where a deployment goes when
// it is not: src/domain/batch-order.ts.
import { afterBatch, type Waiting } from '../domain/batch-order.ts';
import { countBatch } from '../domain/deployment-metrics.ts';
import type { ReadPair } from '../domain/deployment-locks.ts';
import { applyDeployments, type ApplyOutcome, type DeploymentOutcome } from '../domain/deployments.ts';
import type { Logger } from '../platform/logger.ts';
import type { AfterCommit } from './after-commit.ts';
import { createBatches, type BatchSettings } from './batches.ts';

export interface BatcherDeps {
  afterCommit: AfterCommit;
  logger: Logger;
  settings: BatchSettings;
}

/** What a job gets back: its deployment's outcome once committed and announced, or `apply-alone`. */
export type BatcherAnswer = ApplyOutcome | { kind: 'apply-alone' };

interface Queued extends Waiting {
  /** What its accept read, when its job carried it. */
  read: ReadPair | null;
  resolve(answer: BatcherAnswer): void;
}

type Ended = Extract<DeploymentOutcome, { kind: 'deployed' | 'failed' }>;

export function createDeploymentBatcher({ afterCommit, logger, settings }: BatcherDeps) {
  const log = logger.child({ component: 'deployment-batcher' });

  async function run(batch: Queued[]): Promise<readonly Queued[]> {
    countBatch(batch.length);
    let outcomes: Map<string, DeploymentOutcome> | null = null;
    try {
      // A read carried by the job holds for the batch it first joins; one that waited a turn is read again.
      const reads = new Map(batch.flatMap((w) => (w.read && w.turnsWaited === 0 ? [[w.deploymentId, w.read] as const] : [])));
      outcomes = await applyDeployments(batch.map((w) => w.deploymentId), { reads });
    } catch (error) {
      log.warn({ err: error, size: batch.length }, 'batch failed; its deployments are applied one by one');
    }
    if (outcomes) {
      const ended = [...outcomes.values()].filter((o): o is Ended => o.kind === 'deployed' || o.kind === 'failed');
      await afterCommit({ events: ended.flatMap((o) => o.events), notifications: ended.map((o) => o.notification) }, log);
    }
    const kinds = outcomes && new Map([...outcomes].map(([id, outcome]) => [id, outcome.kind]));
    const next = afterBatch(batch, kinds);
    for (const w of next.alone) w.resolve({ kind: 'apply-alone' });
    for (const w of next.settled) w.resolve(outcomes!.get(w.deploymentId) as ApplyOutcome);
    return next.again;
  }
  const batches = createBatches(settings, run);

  return {
    /** Applies the deployment with whatever else is ready; resolves once committed and announced. `read`: what its accept read, if carried. */
    apply(deploymentId: string, read: ReadPair | null = null): Promise<BatcherAnswer> {
      return new Promise((resolve) => batches.add({ deploymentId, read, turnsWaited: 0, resolve }));
    },
  };
}

export type DeploymentBatcher = ReturnType<typeof createDeploymentBatcher>;
