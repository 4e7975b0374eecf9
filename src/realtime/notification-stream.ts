// The live `notifications` subscription of one user. While it is open, the user counts as
// present (in Redis, for every process): the notifications worker then delivers in-app first.
import { Repeater } from 'graphql-yoga';
import type { Presence } from './presence.ts';
import type { LiveUpdates } from './live-updates.ts';
import { liveStreams } from './stream-metrics.ts';

/** Yields the ids of the user's notifications delivered in-app from now on. */
export function notificationStream(liveUpdates: LiveUpdates, presence: Presence, userId: string) {
  return new Repeater<string>(async (push, stop) => {
    const subscription = await liveUpdates.subscribe('notifications', userId, (message) => {
      if (message.userId === userId) void push(message.notificationId);
    });
    let member: string | null = null;
    liveStreams.inc({ stream: 'notifications' });
    try {
      // Present only once the subscription is confirmed, so that what the worker sends arrives.
      member = await presence.enter(userId);
      await stop;
    } finally {
      liveStreams.dec({ stream: 'notifications' });
      if (member) await presence.leave(member);
      liveUpdates.unsubscribe(subscription);
      stop();
    }
  });
}
