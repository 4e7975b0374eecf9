// The periodic limit-change pass: TEMPORARY_LIMIT_ENDING reminders, then the scheduled changes
// that came due (decreases past their notice, temporary increases' ends), applied from what
// Postgres holds (src/domain/limit-change-apply.ts): a restart or a Redis flush loses none, and
// the claim makes one pass per interval across the worker processes (two at once would still
// apply each change once: row locks). What each commit created goes to the after-commit step.
import { applyDueLimitChanges, remindTemporaryEnds } from '../domain/limit-change-apply.ts';
import type { Logger } from '../platform/logger.ts';
import type { AfterCommit } from './after-commit.ts';

export interface LimitChangeRunnerDeps {
  afterCommit: AfterCommit;
  logger: Logger;
  /** How long before a temporary increase ends its user is reminded. */
  reminderBeforeMs: number;
}

export function createLimitChangeRunner({ afterCommit, logger, reminderBeforeMs }: LimitChangeRunnerDeps) {
  return async function runLimitChanges(now = new Date()): Promise<{ reminded: number; applied: number }> {
    const reminders = await remindTemporaryEnds(reminderBeforeMs, now);
    if (reminders.length > 0) {
      await afterCommit({ notifications: reminders }, logger);
      logger.info({ reminders: reminders.length }, 'temporary limit reminders created');
    }
    const applied = await applyDueLimitChanges((notifications) => afterCommit({ notifications }, logger), now);
    if (applied > 0) logger.info({ applied }, 'scheduled limit changes applied');
    return { reminded: reminders.length, applied };
  };
}
