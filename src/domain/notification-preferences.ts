// Storing a user's notification preferences, and reading them for the users of a batch of
// pushes. The rules (defaults, required settings, the checks) are in preference-rules.ts.
import { hotQuery, prisma, Prisma, type NotificationChannelSetting, type NotificationPreferences } from '../platform/db.ts';
import type { ValidationError } from './errors.ts';
import { defaultPreferences, validatePreferencesUpdate, type Preferences, type PreferencesUpdate } from './preference-rules.ts';
import { ensureUser } from './users.ts';
import type { Viewer } from './viewer.ts';

/** Each user's preferences (the defaults for those who never set any), in two queries whatever their number. */
export async function preferencesOf(userIds: readonly string[], offersPushDefault: boolean): Promise<Map<string, Preferences>> {
  const ids = [...new Set(userIds)];
  // Through pg: a worker reads them for every batch of notifications it takes a step of.
  const [rows, choices] = await Promise.all([
    hotQuery<Pick<NotificationPreferences, 'userId' | 'timeZone' | 'quietHoursEnabled' | 'quietHoursStart' | 'quietHoursEnd'>>('preferences of users', Prisma.sql`
      SELECT user_id AS "userId", time_zone AS "timeZone", quiet_hours_enabled AS "quietHoursEnabled",
             quiet_hours_start AS "quietHoursStart", quiet_hours_end AS "quietHoursEnd"
        FROM notification_preferences WHERE user_id = ANY(${ids}::text[])`),
    hotQuery<Pick<NotificationChannelSetting, 'userId' | 'category' | 'channel' | 'enabled'>>('channel choices of users', Prisma.sql`
      SELECT user_id AS "userId", category::text AS category, channel::text AS channel, enabled
        FROM notification_channel_settings WHERE user_id = ANY(${ids}::text[])`),
  ]);
  const result = new Map<string, Preferences>();
  for (const id of ids) {
    const row = rows.find((r) => r.userId === id);
    const base = defaultPreferences(offersPushDefault);
    result.set(id, {
      ...base,
      ...(row ? { timeZone: row.timeZone, quietHours: { enabled: row.quietHoursEnabled, start: row.quietHoursStart, end: row.quietHoursEnd } } : {}),
      choices: choices.filter((c) => c.userId === id).map(({ category, channel, enabled }) => ({ category, channel, enabled })),
    });
  }
  return result;
}

export async function preferencesOfUser(userId: string, offersPushDefault: boolean): Promise<Preferences> {
  return (await preferencesOf([userId], offersPushDefault)).get(userId)!;
}

/** Applies the fields given (absent ones stay as they are), all or nothing; refused with a ValidationError naming the field. */
export async function updateNotificationPreferences(
  viewer: Viewer,
  update: PreferencesUpdate,
  offersPushDefault: boolean,
  now = new Date(),
): Promise<Preferences | ValidationError> {
  const invalid = validatePreferencesUpdate(update);
  if (invalid) return invalid;
  await ensureUser(viewer);
  const userId = viewer.userId;
  await prisma.$transaction(async (tx) => {
    const fields = {
      ...(update.timeZone != null ? { timeZone: update.timeZone } : {}),
      ...(update.quietHours
        ? { quietHoursEnabled: update.quietHours.enabled, quietHoursStart: update.quietHours.start, quietHoursEnd: update.quietHours.end }
        : {}),
    };
    await tx.notificationPreferences.upsert({ where: { userId }, create: { userId, ...fields, updatedAt: now }, update: { ...fields, updatedAt: now } });
    for (const { category, channel, enabled } of update.channels ?? []) {
      await tx.notificationChannelSetting.upsert({
        where: { userId_category_channel: { userId, category, channel } },
        create: { userId, category, channel, enabled, updatedAt: now },
        update: { enabled, updatedAt: now },
      });
    }
  });
  return preferencesOfUser(userId, offersPushDefault);
}
