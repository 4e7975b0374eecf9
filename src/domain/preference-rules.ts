// The rules of notification preferences, pure: the defaults, what is required, and the checks of
// an update. Storage is in notification-preferences.ts.
import type { NotificationCategory, NotificationChannel } from '../platform/db.ts';
import { ValidationError } from './errors.ts';
import { CATEGORIES, CHANNELS, isRequired } from './notification-categories.ts';
import { isClockTime, isTimeZone, type QuietHours } from './quiet-hours.ts';

export interface ChannelSetting {
  category: NotificationCategory;
  channel: NotificationChannel;
  enabled: boolean;
}

export interface Preferences {
  timeZone: string;
  quietHours: QuietHours;
  /** The user's own choices; a pair without one takes the default. */
  choices: readonly ChannelSetting[];
  /** Whether offer pushes are on for a user who never chose (a product and compliance setting). */
  offersPushDefault: boolean;
}

export const DEFAULT_TIME_ZONE = 'America/Sao_Paulo';
export const DEFAULT_QUIET_HOURS: QuietHours = { enabled: true, start: '22:00', end: '08:00' };

/** The preferences of a user who never set any. */
export function defaultPreferences(offersPushDefault: boolean): Preferences {
  return { timeZone: DEFAULT_TIME_ZONE, quietHours: DEFAULT_QUIET_HOURS, choices: [], offersPushDefault };
}

/** Whether the category reaches the user on the channel: required ones always do. */
export function channelEnabled(preferences: Preferences, category: NotificationCategory, channel: NotificationChannel): boolean {
  if (isRequired(category, channel)) return true;
  const choice = preferences.choices.find((c) => c.category === category && c.channel === channel);
  if (choice) return choice.enabled;
  return category === 'OFFERS' && channel === 'PUSH' ? preferences.offersPushDefault : true;
}

/** Every (category, channel) pair as the app shows it. */
export function channelList(preferences: Preferences) {
  return CATEGORIES.flatMap((category) =>
    CHANNELS.map((channel) => ({
      category,
      channel,
      enabled: channelEnabled(preferences, category, channel),
      required: isRequired(category, channel),
    })),
  );
}

export interface PreferencesUpdate {
  timeZone?: string | null;
  quietHours?: QuietHours | null;
  channels?: readonly ChannelSetting[] | null;
}

/** The first thing wrong with an update, naming the field; null when it may be applied. */
export function validatePreferencesUpdate(update: PreferencesUpdate): ValidationError | null {
  if (update.timeZone != null && !isTimeZone(update.timeZone)) {
    return new ValidationError(`timeZone must be an IANA time zone such as America/Sao_Paulo, got '${update.timeZone.slice(0, 64)}'`, 'input.timeZone');
  }
  if (update.quietHours) {
    for (const key of ['start', 'end'] as const) {
      if (!isClockTime(update.quietHours[key])) {
        return new ValidationError(`quietHours.${key} must be a local time HH:MM (00:00 to 23:59)`, `input.quietHours.${key}`);
      }
    }
  }
  const seen = new Set<string>();
  for (const [index, setting] of (update.channels ?? []).entries()) {
    const key = `${setting.category}:${setting.channel}`;
    if (seen.has(key)) return new ValidationError(`channels names ${key} twice`, `input.channels.${index}`);
    seen.add(key);
    if (!setting.enabled && isRequired(setting.category, setting.channel)) {
      return new ValidationError(
        `${setting.category} notifications are required on ${setting.channel} and cannot be turned off`,
        `input.channels.${index}.enabled`,
      );
    }
  }
  return null;
}
