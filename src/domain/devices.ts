// Devices: the push tokens of a user's phones. A token belongs to one user at a time: the last
// one to register it (a shared or resold phone, a new login) receives its pushes.
import type { Viewer } from './viewer.ts';
import { hotQuery, prisma, Prisma, type Device, type DevicePlatform } from '../platform/db.ts';
import { ValidationError } from './errors.ts';
import { ensureUser } from './users.ts';

/** FCM tokens are about 150-250 characters, APNs tokens 64 hex digits; anything far longer is not a token. */
const MAX_TOKEN_LENGTH = 512;
/** The characters of FCM (base64url with ':') and APNs (hex) tokens. */
const TOKEN = /^[A-Za-z0-9_:.\-]+$/;

export const DEFAULT_MAX_DEVICES = 10;

function validateToken(token: string): ValidationError | null {
  if (token.length === 0) return new ValidationError('token must not be empty', 'token');
  if (token.length > MAX_TOKEN_LENGTH) return new ValidationError(`token must be at most ${MAX_TOKEN_LENGTH} characters`, 'token');
  if (!TOKEN.test(token)) return new ValidationError('token may hold only letters, digits and _ : . -', 'token');
  return null;
}

export interface RegisteredDevice {
  device: Device;
  /** The user the token belonged to until now, when it moved (a shared or resold phone, or a stolen token). */
  movedFrom: string | null;
  /** Devices dropped to keep the user at the maximum. */
  dropped: number;
}

/**
 * Stores the token for the viewer, or refreshes it (its lastSeenAt: the app calls this on each
 * start and on FCM's token refresh); a token registered by another user moves to
 * the viewer. A user keeps at most `maxDevices`: registering one more drops the oldest.
 */
export async function registerDevice(
  viewer: Viewer,
  token: string,
  platform: DevicePlatform,
  maxDevices = DEFAULT_MAX_DEVICES,
  now = new Date(),
): Promise<RegisteredDevice | ValidationError> {
  const invalid = validateToken(token);
  if (invalid) return invalid;
  await ensureUser(viewer);
  const previous = await prisma.device.findUnique({ where: { token }, select: { userId: true } });
  // One statement: concurrent registrations of the same token end with one row, the last writer's.
  const device = await prisma.device.upsert({
    where: { token },
    create: { userId: viewer.userId, token, platform, createdAt: now, lastSeenAt: now },
    update: { userId: viewer.userId, platform, lastSeenAt: now },
  });
  return { device, movedFrom: previous && previous.userId !== viewer.userId ? previous.userId : null, dropped: await dropOldest(viewer.userId, maxDevices) };
}

/** Deletes the user's devices beyond the newest `keep` (by last registration); their delivery records stay, without a device. */
async function dropOldest(userId: string, keep: number): Promise<number> {
  const beyond = await prisma.device.findMany({
    where: { userId },
    orderBy: [{ lastSeenAt: 'desc' }, { createdAt: 'desc' }, { id: 'desc' }],
    skip: keep,
    select: { id: true },
  });
  if (beyond.length === 0) return 0;
  const { count } = await prisma.device.deleteMany({ where: { id: { in: beyond.map((d) => d.id) } } });
  return count;
}

/** Each user's devices that can receive pushes, oldest first (a token the provider refused is deleted at once). */
export async function activeDevicesOf(userIds: readonly string[]): Promise<Map<string, Device[]>> {
  const rows = await hotQuery<Device>('devices of users', Prisma.sql`
    SELECT id::text AS id, user_id AS "userId", token, platform::text AS platform, created_at AS "createdAt", last_seen_at AS "lastSeenAt"
      FROM devices WHERE user_id = ANY(${userIds}::text[]) ORDER BY created_at, id`);
  const devices = new Map<string, Device[]>();
  for (const device of rows) {
    const mine = devices.get(device.userId);
    if (mine) mine.push(device);
    else devices.set(device.userId, [device]);
  }
  return devices;
}

/**
 * Removes the viewer's device with this token (logout). Idempotent: false when none of the
 * viewer's devices has it (another user's token is never touched). Its delivery records stay.
 */
export async function unregisterDevice(viewer: Viewer, token: string): Promise<boolean | ValidationError> {
  const invalid = validateToken(token);
  if (invalid) return invalid;
  const { count } = await prisma.device.deleteMany({ where: { token, userId: viewer.userId } });
  return count > 0;
}

/**
 * Removes tokens not seen (registered) for `staleAfterMs`: FCM counts a token stale after a month
 * without activity and expires it after 270 days. Returns how many went.
 */
export async function removeStaleDevices(staleAfterMs: number, now = new Date()): Promise<number> {
  const { count } = await prisma.device.deleteMany({ where: { lastSeenAt: { lt: new Date(now.getTime() - staleAfterMs) } } });
  return count;
}
