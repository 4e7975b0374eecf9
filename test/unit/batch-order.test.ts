// Whose turn it is in a group commit (src/domain/batch-order.ts): each rule, alone.
import { describe, expect, it } from 'vitest';
import { afterBatch, batchTurns, MAX_TURNS_WAITED, type LockedCandidate, type Waiting } from '../../src/domain/batch-order.ts';

const candidate = (id: string, userId: string, acceptanceSequence: number, more: Partial<LockedCandidate> = {}): LockedCandidate => ({
  id,
  userId,
  acceptanceSequence,
  final: false,
  profileHeld: false,
  earlierPending: false,
  ...more,
});

describe('batchTurns', () => {
  it("applies each user's earliest acceptance of the batch and defers the user's later ones, whatever the batch's order", () => {
    const turns = batchTurns(['a3', 'a1', 'b1', 'a2'], [candidate('a3', 'ana', 3), candidate('a1', 'ana', 1), candidate('b1', 'bia', 1), candidate('a2', 'ana', 2)]);
    expect(Object.fromEntries(turns)).toEqual({ a1: 'apply', a2: 'deferred', a3: 'deferred', b1: 'apply' });
  });

  it('sends a deployment whose row another transaction holds (not returned by the lock) to be applied alone', () => {
    const turns = batchTurns(['held', 'free'], [candidate('free', 'bia', 1)]);
    expect(Object.fromEntries(turns)).toEqual({ held: 'skipped', free: 'apply' });
  });

  it('keeps a deployment for a later batch while its profile is held or an earlier acceptance is not final', () => {
    const turns = batchTurns(['p', 'e'], [candidate('p', 'ana', 1, { profileHeld: true }), candidate('e', 'bia', 2, { earlierPending: true })]);
    expect(Object.fromEntries(turns)).toEqual({ p: 'not-yet', e: 'not-yet' });
  });

  it('does nothing to a final deployment, and a final one does not take its user\'s turn', () => {
    const turns = batchTurns(['done', 'next'], [candidate('done', 'ana', 1, { final: true }), candidate('next', 'ana', 2)]);
    expect(Object.fromEntries(turns)).toEqual({ done: 'already-final', next: 'apply' });
  });
});

describe('afterBatch', () => {
  const waiting = (deploymentId: string, turnsWaited = 0): Waiting => ({ deploymentId, turnsWaited });

  it('puts deferred deployments first in the next batch, settles the applied, and sends the skipped alone', () => {
    const batch = [waiting('applied'), waiting('later'), waiting('held'), waiting('final')];
    const next = afterBatch(batch, new Map([['applied', 'deployed'], ['later', 'deferred'], ['held', 'skipped'], ['final', 'already-final']]));
    expect(next.again.map((w) => w.deploymentId)).toEqual(['later']);
    expect(next.alone.map((w) => w.deploymentId)).toEqual(['held']);
    expect(next.settled.map((w) => w.deploymentId)).toEqual(['applied', 'final']);
  });

  it(`lets a deployment whose turn has not come wait ${MAX_TURNS_WAITED} batches, then sends it alone`, () => {
    const patient = waiting('patient', MAX_TURNS_WAITED - 1);
    expect(afterBatch([patient], new Map([['patient', 'not-yet']])).again).toEqual([patient]);
    expect(patient.turnsWaited).toBe(MAX_TURNS_WAITED);
    expect(afterBatch([patient], new Map([['patient', 'not-yet']])).alone).toEqual([patient]);
  });

  it('sends every deployment of a batch that failed as a whole alone, once', () => {
    const batch = [waiting('x'), waiting('y', 3)];
    const next = afterBatch(batch, null);
    expect(next).toEqual({ again: [], alone: batch, settled: [] });
  });
});
