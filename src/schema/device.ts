import { requireViewer } from './guards.ts';
import type { Device } from '../platform/db.ts';
import { registerDevice, unregisterDevice } from '../domain/devices.ts';
import { isDomainError } from '../domain/errors.ts';
import { builder } from './builder.ts';
import { DevicePlatformEnum } from './enums.ts';
import { payload, resultUnion, ValidationErrorRef } from './errors.ts';

export const DeviceRef = builder.prismaObject('Device', {
  fields: (t) => ({
    id: t.exposeID('id'),
    platform: t.expose('platform', { type: DevicePlatformEnum }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastSeenAt: t.expose('lastSeenAt', {
      type: 'DateTime',
      description: 'Its last registration (the app registers on each start and on token refresh); stale tokens are removed.',
    }),
  }),
});

const RegisterDeviceSuccess = builder.objectRef<{ device: Device }>('RegisterDeviceSuccess').implement({
  fields: (t) => ({ device: t.field({ type: DeviceRef, resolve: (p) => p.device }) }),
});

const RegisterDeviceResult = resultUnion('RegisterDeviceResult', RegisterDeviceSuccess, [ValidationErrorRef]);

builder.mutationField('registerDevice', (t) =>
  t.field({
    type: RegisterDeviceResult,
    description: "Registers (or refreshes) a push token of the authenticated user's device.",
    args: { token: t.arg.string(), platform: t.arg({ type: DevicePlatformEnum }) },
    resolve: async (_root, { token, platform }, ctx) => {
      const viewer = requireViewer(ctx.auth);
      const result = await registerDevice(viewer, token, platform, ctx.services.caps.maxDevicesPerUser);
      if (isDomainError(result)) return payload(result, 'device');
      const { device, movedFrom, dropped } = result;
      // A token changing hands is normal for a resold phone, and what a stolen token looks like.
      if (movedFrom) ctx.log.warn({ deviceId: device.id, fromUserId: movedFrom, toUserId: viewer.userId }, 'a device token moved to another user');
      ctx.log.info({ deviceId: device.id, platform, dropped }, 'device registered');
      return payload(device, 'device');
    },
  }),
);

const UnregisterDeviceSuccess = builder.objectRef<{ removed: boolean }>('UnregisterDeviceSuccess').implement({
  fields: (t) => ({ removed: t.exposeBoolean('removed', { description: 'False when no device of the caller had that token.' }) }),
});

const UnregisterDeviceResult = resultUnion('UnregisterDeviceResult', UnregisterDeviceSuccess, [ValidationErrorRef]);

builder.mutationField('unregisterDevice', (t) =>
  t.field({
    type: UnregisterDeviceResult,
    description: "Removes a push token of the authenticated user's device (logout). Idempotent.",
    args: { token: t.arg.string() },
    resolve: async (_root, { token }, ctx) => {
      const removed = await unregisterDevice(requireViewer(ctx.auth), token);
      if (!isDomainError(removed)) ctx.log.info({ removed }, 'device unregistered');
      return payload(removed, 'removed');
    },
  }),
);
