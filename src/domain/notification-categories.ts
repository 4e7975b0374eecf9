// Each kind of notification belongs to one category, and the category decides what the user may
// switch off: OFFERS on any channel; CREDIT_UPDATES (the results of the user's own actions) only
// their push; ACCOUNT_NOTICES (notices the law requires) nothing.
import type { NotificationCategory, NotificationChannel, NotificationKind } from '../platform/db.ts';

export const CATEGORY_OF: Record<NotificationKind, NotificationCategory> = {
  OFFER_RECEIVED: 'OFFERS',
  OFFER_EXPIRING: 'OFFERS',
  OFFER_EXPIRED: 'OFFERS',
  CREDIT_DEPLOYED: 'CREDIT_UPDATES',
  CREDIT_DEPLOYMENT_FAILED: 'CREDIT_UPDATES',
  // A lower limit is a notice the law requires before it happens (and when it does).
  LIMIT_DECREASE_SCHEDULED: 'ACCOUNT_NOTICES',
  LIMIT_DECREASED: 'ACCOUNT_NOTICES',
  LIMIT_CHANGE_CANCELLED: 'ACCOUNT_NOTICES',
  TEMPORARY_LIMIT_ENDING: 'ACCOUNT_NOTICES',
  TEMPORARY_LIMIT_ENDED: 'ACCOUNT_NOTICES',
};

export const categoryOf = (kind: NotificationKind): NotificationCategory => CATEGORY_OF[kind];

export const CATEGORIES: readonly NotificationCategory[] = ['OFFERS', 'CREDIT_UPDATES', 'ACCOUNT_NOTICES'];
export const CHANNELS: readonly NotificationChannel[] = ['IN_APP', 'PUSH'];

/** Whether a (category, channel) is required: always on, out of the user's switches. */
export function isRequired(category: NotificationCategory, channel: NotificationChannel): boolean {
  if (category === 'ACCOUNT_NOTICES') return true;
  return category === 'CREDIT_UPDATES' && channel === 'IN_APP';
}

/**
 * Categories whose pushes go through quiet hours and, on iOS, as time-sensitive: the answer to
 * what the user just did, and the notices the law says must reach them first.
 */
export function isTimeSensitive(category: NotificationCategory): boolean {
  return category !== 'OFFERS';
}

/** Kinds about an open offer: their push is pointless (and dropped) once the offer is no longer PENDING. */
export function needsOpenOffer(kind: NotificationKind): boolean {
  return kind === 'OFFER_RECEIVED' || kind === 'OFFER_EXPIRING';
}
