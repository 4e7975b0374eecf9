// The scheduling the batchers share (group commit of deployments, notification steps taken
// together): the jobs a worker runs at once hand over an item each; whatever is waiting goes in
// batches of up to `maxBatch`, at most `maxInFlight` at a time. A batch never waits to fill: the
// first item to arrive starts one after the current turn of the event loop (items that arrive
// together go together), and those that arrive while batches are in flight make the next.

export interface BatchSettings {
  /** Items one batch takes at most. */
  maxBatch: number;
  /** Batches (transactions, connections) in flight at once per worker process. */
  maxInFlight: number;
}

/**
 * Runs the items added in batches. `run` answers each item of its batch itself, and returns those
 * to go again: they go first in the next batch. It must not throw.
 */
export function createBatches<T>(settings: BatchSettings, run: (batch: T[]) => Promise<readonly T[]>) {
  let waiting: T[] = [];
  let inFlight = 0;
  let scheduled = false;

  function startBatches() {
    scheduled = false;
    while (inFlight < settings.maxInFlight && waiting.length > 0) {
      const batch = waiting.slice(0, settings.maxBatch);
      waiting = waiting.slice(batch.length);
      inFlight++;
      void run(batch)
        .then((again) => {
          waiting = [...again, ...waiting];
        })
        .finally(() => {
          inFlight--;
          schedule();
        });
    }
  }

  function schedule() {
    if (scheduled || waiting.length === 0 || inFlight >= settings.maxInFlight) return;
    scheduled = true;
    setImmediate(startBatches);
  }

  return {
    add(item: T): void {
      waiting.push(item);
      schedule();
    },
  };
}
