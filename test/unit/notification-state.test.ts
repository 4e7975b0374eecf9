// The notification's delivery state machine (nextStep in src/domain/notification-delivery.ts):
// in-app first for a present user, push as the fallback; each rule, alone.
import { describe, expect, it } from 'vitest';
import { nextStep } from '../../src/domain/notification-delivery.ts';

const now = new Date('2026-12-06T12:00:00Z');
const later = new Date(now.getTime() + 30_000);
const earlier = new Date(now.getTime() - 1);
const stored = (status: string, more: { pushDueAt?: Date | null; pushSettledAt?: Date | null } = {}) =>
  ({ status, pushDueAt: null, pushSettledAt: null, ...more }) as Parameters<typeof nextStep>[0];

describe('nextStep', () => {
  it('delivers a new notification in-app to a present user', () => {
    expect(nextStep(stored('PENDING'), true, now)).toEqual({ kind: 'in-app' });
  });

  it('pushes a new notification at once to an absent user', () => {
    expect(nextStep(stored('PENDING'), false, now)).toEqual({ kind: 'push' });
  });

  it('waits for the fallback time after an in-app delivery, then pushes', () => {
    expect(nextStep(stored('DELIVERED', { pushDueAt: later }), true, now)).toEqual({ kind: 'wait', until: later });
    expect(nextStep(stored('DELIVERED', { pushDueAt: earlier }), true, now)).toEqual({ kind: 'push' });
  });

  it('never delivers an acknowledged notification again', () => {
    expect(nextStep(stored('ACKNOWLEDGED', { pushDueAt: earlier }), false, now)).toEqual({ kind: 'done', outcome: 'acknowledged' });
  });

  it('never pushes a notification whose push is settled or that failed', () => {
    expect(nextStep(stored('DELIVERED', { pushSettledAt: earlier, pushDueAt: earlier }), false, now)).toEqual({ kind: 'done', outcome: 'already-settled' });
    expect(nextStep(stored('FAILED'), true, now)).toEqual({ kind: 'done', outcome: 'already-settled' });
  });

  it('says a notification that is not there is missing', () => {
    expect(nextStep(null, true, now)).toEqual({ kind: 'done', outcome: 'missing' });
  });
});
