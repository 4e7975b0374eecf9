// The user's notification controls: categories on each channel (required ones shown, never
// switchable), quiet hours and the time zone they are read in.
import { requireViewer } from './guards.ts';
import { updateNotificationPreferences, preferencesOfUser } from '../domain/notification-preferences.ts';
import { channelList, type Preferences } from '../domain/preference-rules.ts';
import type { QuietHours } from '../domain/quiet-hours.ts';
import { builder } from './builder.ts';
import { NotificationCategoryEnum, NotificationChannelEnum } from './enums.ts';
import { payload, resultUnion, ValidationErrorRef } from './errors.ts';

type ChannelPreference = ReturnType<typeof channelList>[number];

const ChannelPreferenceRef = builder.objectRef<ChannelPreference>('ChannelPreference').implement({
  fields: (t) => ({
    category: t.field({ type: NotificationCategoryEnum, resolve: (c) => c.category }),
    channel: t.field({ type: NotificationChannelEnum, resolve: (c) => c.channel }),
    enabled: t.exposeBoolean('enabled'),
    required: t.exposeBoolean('required', { description: 'Always on: turning it off is a ValidationError.' }),
  }),
});

const QuietHoursRef = builder.objectRef<QuietHours>('QuietHours').implement({
  description: "Local wall-clock times, HH:MM, in the preferences' time zone; start after end spans midnight.",
  fields: (t) => ({
    enabled: t.exposeBoolean('enabled'),
    start: t.exposeString('start'),
    end: t.exposeString('end'),
  }),
});

const NotificationPreferencesRef = builder.objectRef<Preferences>('NotificationPreferences').implement({
  fields: (t) => ({
    timeZone: t.exposeString('timeZone', { description: 'An IANA time zone; America/Sao_Paulo until the app sets one.' }),
    quietHours: t.field({
      type: QuietHoursRef,
      description: 'Offer pushes that fall in them are held until they end; credit updates and account notices are not.',
      resolve: (p) => p.quietHours,
    }),
    channels: t.field({ type: [ChannelPreferenceRef], resolve: (p) => channelList(p) }),
  }),
});

builder.prismaObjectField('User', 'notificationPreferences', (t) =>
  t.field({
    type: NotificationPreferencesRef,
    select: { id: true },
    resolve: (user, _args, ctx) => preferencesOfUser(user.id, ctx.services.notifications.offersPushDefault),
  }),
);

const ChannelPreferenceInput = builder.inputType('ChannelPreferenceInput', {
  fields: (t) => ({
    category: t.field({ type: NotificationCategoryEnum }),
    channel: t.field({ type: NotificationChannelEnum }),
    enabled: t.boolean(),
  }),
});

const QuietHoursInput = builder.inputType('QuietHoursInput', {
  fields: (t) => ({ enabled: t.boolean(), start: t.string(), end: t.string() }),
});

const NotificationPreferencesInput = builder.inputType('NotificationPreferencesInput', {
  description: 'Absent fields stay as they are.',
  fields: (t) => ({
    timeZone: t.string({ required: false }),
    quietHours: t.field({ type: QuietHoursInput, required: false }),
    channels: t.field({ type: [ChannelPreferenceInput], required: false }),
  }),
});

const UpdateNotificationPreferencesSuccess = builder.objectRef<{ preferences: Preferences }>('UpdateNotificationPreferencesSuccess').implement({
  fields: (t) => ({ preferences: t.field({ type: NotificationPreferencesRef, resolve: (p) => p.preferences }) }),
});

const UpdateNotificationPreferencesResult = resultUnion('UpdateNotificationPreferencesResult', UpdateNotificationPreferencesSuccess, [
  ValidationErrorRef,
]);

builder.mutationField('updateNotificationPreferences', (t) =>
  t.field({
    type: UpdateNotificationPreferencesResult,
    description: "The authenticated user's notification preferences; all or nothing.",
    args: { input: t.arg({ type: NotificationPreferencesInput }) },
    resolve: async (_root, { input }, ctx) => {
      const viewer = requireViewer(ctx.auth);
      const result = await updateNotificationPreferences(viewer, input, ctx.services.notifications.offersPushDefault);
      return payload(result, 'preferences');
    },
  }),
);
