// The periodic removal of push tokens not registered again for a long time (the app registers on
// every start, so a token that went quiet belongs to an uninstalled app or a phone put away).
import { removeStaleDevices } from '../domain/devices.ts';
import type { Logger } from '../platform/logger.ts';

export function createStaleDeviceCleanup({ logger, staleAfterMs }: { logger: Logger; staleAfterMs: number }) {
  return async function removeStale(now = new Date()): Promise<number> {
    const removed = await removeStaleDevices(staleAfterMs, now);
    if (removed > 0) logger.info({ removed, staleAfterDays: staleAfterMs / 86_400_000 }, 'stale device tokens removed');
    return removed;
  };
}
