// The retention job of the worker processes (docs/data-retention.md), run once per interval across
// them (startPeriodic with a claim): creates the outbox's day partitions ahead, drops those whose
// events were all sent before EVENTS_RETENTION_DAYS (and trims the events stream to that period),
// deletes ordinary notifications past NOTIFICATION_RETENTION_DAYS and the offers never accepted
// that long after their expiry, and, only once compliance has set the regulatory period, the
// regulatory records past it (deployment and limit-change trails, the history of credit lines,
// the notices).
import { createOutboxPartitions, dropSentOutboxPartitions } from '../domain/outbox-partitions.ts';
import {
  deleteCreditLineChangesBefore,
  deleteDeploymentTrailsBefore,
  deleteLimitChangeTrailsBefore,
  deleteNotificationsBefore,
  deleteUnacceptedOffersBefore,
} from '../domain/retention.ts';
import type { Logger } from '../platform/logger.ts';

const DAY_MS = 86_400_000;

export interface RetentionSettings {
  intervalMs: number;
  eventsRetentionDays: number;
  notificationRetentionDays: number;
  /** Null until compliance sets it: regulatory records are then never deleted. */
  regulatoryRetentionDays: number | null;
  /** Outbox partitions are created this many days ahead. */
  partitionDaysAhead: number;
}

export interface RetentionRun {
  partitionsCreated: string[];
  partitionsDropped: string[];
  eventsDeleted: number;
  /** Entries of the events stream older than EVENTS_RETENTION_DAYS, trimmed. */
  streamEntriesTrimmed: number;
  notificationsDeleted: number;
  /** Offers never accepted, NOTIFICATION_RETENTION_DAYS after their expiry. */
  offersDeleted: number;
  regulatoryNoticesDeleted: number;
  deploymentTrailsDeleted: number;
  limitChangeTrailsDeleted: number;
  creditLineChangesDeleted: number;
}

export interface RetentionDeps {
  logger: Logger;
  settings: RetentionSettings;
  /**
   * Trims the events stream's entries added before the time (the worker's: `XTRIM MINID`); how
   * many went. Without it (a test of the tables alone) the stream is left to its length cap.
   */
  trimEventStream?: (before: Date) => Promise<number>;
}

export function createRetentionJob({ logger, settings, trimEventStream }: RetentionDeps) {
  let saidUnset = false;
  return async function applyRetention(now = new Date()): Promise<RetentionRun> {
    const ago = (days: number) => new Date(now.getTime() - days * DAY_MS);
    const eventsBefore = ago(settings.eventsRetentionDays);
    const notificationsBefore = ago(settings.notificationRetentionDays);
    const partitionsCreated = await createOutboxPartitions(now, settings.partitionDaysAhead);
    const trim = await dropSentOutboxPartitions(eventsBefore);
    // The stream holds the same events: kept no longer than the outbox keeps them (a consumer
    // behind by more than that could not replay them either).
    const streamEntriesTrimmed = trimEventStream ? await trimEventStream(eventsBefore) : 0;
    const notificationsDeleted = await deleteNotificationsBefore(notificationsBefore, { regulatory: false });
    // After the notifications: one about an offer keeps it until the notification goes.
    const offersDeleted = await deleteUnacceptedOffersBefore(notificationsBefore);
    let regulatoryNoticesDeleted = 0;
    let deploymentTrailsDeleted = 0;
    let limitChangeTrailsDeleted = 0;
    let creditLineChangesDeleted = 0;
    if (settings.regulatoryRetentionDays === null) {
      if (!saidUnset) logger.warn('REGULATORY_RETENTION_DAYS is not set: regulatory records are kept (compliance sets the period)');
      saidUnset = true;
    } else {
      const regulatoryBefore = ago(settings.regulatoryRetentionDays);
      regulatoryNoticesDeleted = await deleteNotificationsBefore(regulatoryBefore, { regulatory: true });
      deploymentTrailsDeleted = await deleteDeploymentTrailsBefore(regulatoryBefore);
      limitChangeTrailsDeleted = await deleteLimitChangeTrailsBefore(regulatoryBefore);
      creditLineChangesDeleted = await deleteCreditLineChangesBefore(regulatoryBefore);
    }
    const run = {
      partitionsCreated,
      partitionsDropped: trim.dropped,
      eventsDeleted: trim.deleted,
      streamEntriesTrimmed,
      notificationsDeleted,
      offersDeleted,
      regulatoryNoticesDeleted,
      deploymentTrailsDeleted,
      limitChangeTrailsDeleted,
      creditLineChangesDeleted,
    };
    const changed = Object.values(run).some((v) => (Array.isArray(v) ? v.length > 0 : v > 0));
    if (changed) logger.info(run, 'retention applied');
    return run;
  };
}
