// Group commit of the deployment jobs: the jobs a worker runs at once hand their deployment to
// the batcher, which applies whatever is ready together, in one transaction (applyDeployments),
// then hands what the batch committed to afterCommit in one go. A batch never waits to fill: the
// first deployment to arrive starts one at once, and those that arrive while batches are in
// flight make the next. Each job gets its own deployment's outcome. Whose turn it is, and where a
// deployment goes when it is not: src/domain/batch-order.ts.
import { afterBatch, type Waiting } from '../domain/batch-order.ts';
import { countBatch } from '../domain/deployment-metrics.ts';
import { applyDeployments, type ApplyOutcome, type DeploymentOutcome } from '../domain/deployments.ts';
import type { Logger } from '../platform/logger.ts';
import type { AfterCommit } from './after-commit.ts';

export interface BatchSettings {
  /** Deployments one transaction applies at most. */
  maxBatch: number;
  /** Batches (transactions, connections) in flight at once per worker process. */
  maxInFlight: number;
}

export interface BatcherDeps {
  afterCommit: AfterCommit;
  logger: Logger;
  settings: BatchSettings;
}

/** What a job gets back: its deployment's outcome once committed and announced, or `apply-alone`. */
export type BatcherAnswer = ApplyOutcome | { kind: 'apply-alone' };

interface Queued extends Waiting {
  resolve(answer: BatcherAnswer): void;
}

type Ended = Extract<DeploymentOutcome, { kind: 'deployed' | 'failed' }>;

export function createDeploymentBatcher({ afterCommit, logger, settings }: BatcherDeps) {
  const log = logger.child({ component: 'deployment-batcher' });
  let waiting: Queued[] = [];
  let inFlight = 0;
  let scheduled = false;

  async function run(batch: Queued[]): Promise<void> {
    countBatch(batch.length);
    let outcomes: Map<string, DeploymentOutcome> | null = null;
    try {
      outcomes = await applyDeployments(batch.map((w) => w.deploymentId));
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
    waiting = [...next.again, ...waiting];
  }

  function startBatches() {
    scheduled = false;
    while (inFlight < settings.maxInFlight && waiting.length > 0) {
      const batch = waiting.slice(0, settings.maxBatch);
      waiting = waiting.slice(batch.length);
      inFlight++;
      void run(batch).finally(() => {
        inFlight--;
        schedule();
      });
    }
  }

  /** Starts batches after the current turn of the event loop: jobs that arrive together go together. */
  function schedule() {
    if (scheduled || waiting.length === 0 || inFlight >= settings.maxInFlight) return;
    scheduled = true;
    setImmediate(startBatches);
  }

  return {
    /** Applies the deployment with whatever else is ready; resolves once committed and announced. */
    apply(deploymentId: string): Promise<BatcherAnswer> {
      return new Promise((resolve) => {
        waiting.push({ deploymentId, turnsWaited: 0, resolve });
        schedule();
      });
    },
  };
}

export type DeploymentBatcher = ReturnType<typeof createDeploymentBatcher>;
