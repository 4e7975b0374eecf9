// Devices: the push tokens of a user's phones. A token belongs to one user at a time: the last
// one to register it (a shared or resold phone, a new login) receives its pushes.
import type { Viewer } from './viewer.ts';
import { prisma, type Device, type DevicePlatform } from '../platform/db.ts';
import { ValidationError } from './errors.ts';
import { ensureUser } from './users.ts';

/** FCM tokens are about 150-250 characters; anything far outside that is not a token. */
const MAX_TOKEN_LENGTH = 4096;
const TOKEN = /^[\x21-\x7e]+$/; // printable ASCII, no spaces

function validateToken(token: string): ValidationError | null {
  if (token.length === 0) return new ValidationError('token must not be empty', 'token');
  if (token.length > MAX_TOKEN_LENGTH) return new ValidationError(`token must be at most ${MAX_TOKEN_LENGTH} characters`, 'token');
  if (!TOKEN.test(token)) return new ValidationError('token must be printable ASCII without spaces', 'token');
  return null;
}

/** Stores the token for the viewer, or refreshes it; a token registered by another user moves to the viewer. */
export async function registerDevice(viewer: Viewer, token: string, platform: DevicePlatform, now = new Date()): Promise<Device | ValidationError> {
  const invalid = validateToken(token);
  if (invalid) return invalid;
  await ensureUser(viewer);
  // One statement: concurrent registrations of the same token end with one row, the last writer's.
  return prisma.device.upsert({
    where: { token },
    create: { userId: viewer.userId, token, platform, createdAt: now, refreshedAt: now },
    update: { userId: viewer.userId, platform, refreshedAt: now, invalidatedAt: null, invalidReason: null },
  });
}

/** The devices that can receive pushes. */
export function activeDevicesOf(userId: string): Promise<Device[]> {
  return prisma.device.findMany({ where: { userId, invalidatedAt: null }, orderBy: { createdAt: 'asc' } });
}
