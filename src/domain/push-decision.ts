// Whether a notification's push goes now, is held for quiet hours, or is not sent at all: a pure
// function of its category, the user's preferences and the time. The delivery state machine
// consults it when a push is due (notification-delivery.ts).
import type { DeliveryReason, NotificationCategory } from '../platform/db.ts';
import { isTimeSensitive } from './notification-categories.ts';
import { channelEnabled, type Preferences } from './preference-rules.ts';
import { quietHoursEnd } from './quiet-hours.ts';

export type PushDecision =
  | { action: 'send'; timeSensitive: boolean }
  | { action: 'skip'; reason: DeliveryReason }
  | { action: 'defer'; until: Date; reason: 'QUIET_HOURS' };

export interface PushDecisionInput {
  category: NotificationCategory;
  preferences: Preferences;
  now: Date;
  /** Held pushes are released over this long after quiet hours end, so a campaign does not reach FCM at once. */
  releaseSpreadMs: number;
  /** [0, 1): the spread's draw (Math.random in production). */
  random: () => number;
}

export function decidePush({ category, preferences, now, releaseSpreadMs, random }: PushDecisionInput): PushDecision {
  if (!channelEnabled(preferences, category, 'PUSH')) return { action: 'skip', reason: 'CHANNEL_DISABLED' };
  if (isTimeSensitive(category)) return { action: 'send', timeSensitive: true };
  const end = quietHoursEnd(preferences.quietHours, preferences.timeZone, now);
  if (!end) return { action: 'send', timeSensitive: false };
  return { action: 'defer', until: new Date(end.getTime() + Math.floor(random() * releaseSpreadMs)), reason: 'QUIET_HOURS' };
}
