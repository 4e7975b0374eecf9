import { requireViewer } from './guards.ts';
import type { Device } from '../platform/db.ts';
import { registerDevice } from '../domain/devices.ts';
import { ValidationError } from '../domain/errors.ts';
import { rememberLocale } from '../domain/users.ts';
import { builder } from './builder.ts';
import { DevicePlatformEnum } from './enums.ts';
import { resultUnion, ValidationErrorRef } from './errors.ts';

export const DeviceRef = builder.prismaObject('Device', {
  fields: (t) => ({
    id: t.exposeID('id'),
    platform: t.expose('platform', { type: DevicePlatformEnum }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
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
      await rememberLocale(viewer);
      const result = await registerDevice(viewer, token, platform);
      if (result instanceof ValidationError) return result;
      ctx.log.info({ deviceId: result.id, platform }, 'device registered');
      return { device: result };
    },
  }),
);
