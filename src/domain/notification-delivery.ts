// Delivering a notification: in-app first, push as the fallback. The state machine alone: the
// writes are in delivery-records.ts, the push's sending in push-delivery.ts.
//
// The rule: a user with a live `notifications` subscription (in any API process) gets the
// notification in-app at once, and a push after `fallbackMs` unless they acknowledged it by then;
// a user with none gets the push at once. Each call looks at the notifications as stored and takes
// their next step, so running it twice, or after a crash, neither skips nor repeats a delivery.
// One path for one notification (its job) or many (the first step of a batch's notifications).
import { hotQuery, Prisma, type DeliveryReason, type Notification } from '../platform/db.ts';
import type { Logger } from '../platform/logger.ts';
import { recordInAppDeliveries, recordPushesDeferred, recordPushSkipped, type PushHold } from './delivery-records.ts';
import { categoryOf, needsOpenOffer } from './notification-categories.ts';
import { preferencesOf } from './notification-preferences.ts';
import { channelEnabled } from './preference-rules.ts';
import { decidePush } from './push-decision.ts';
import type { PresenceCheck, PushSender } from './ports.ts';
import { sendPushes } from './push-delivery.ts';

export interface DeliveryDeps {
  presence: PresenceCheck;
  push: PushSender;
  /** How long an in-app notification may stay unacknowledged before it is pushed too. */
  fallbackMs: number;
  /**
   * The lease of a push's claim while it is sent (push-claims.ts): kept alive by its holder, it
   * lapses this long after the holder died, as the job's own lock does (the job lock's duration).
   */
  pushClaimMs: number;
  preferences: DeliveryPreferenceSettings;
  logger: Logger;
}

export interface DeliveryPreferenceSettings {
  /** Whether offer pushes are on for users who never chose (a product and compliance choice). */
  offersPushDefault: boolean;
  /** Pushes held for quiet hours go out spread over this long after the hours end. */
  releaseSpreadMs: number;
  /** The spread's draw in [0, 1); Math.random unless a test fixes it. */
  random?: () => number;
}

/** What a notification's state calls for next (pure: nextStep). */
export type NextStep =
  | { kind: 'done'; outcome: 'missing' | 'acknowledged' | 'already-settled' }
  /** PENDING and the user is present: deliver it in-app. */
  | { kind: 'in-app' }
  /** Delivered in-app, its push fallback not due yet. */
  | { kind: 'wait'; until: Date }
  /** The push is due (at once for an absent user, or the fallback's time has come). */
  | { kind: 'push' };

type StoredState = Pick<Notification, 'status' | 'pushDueAt' | 'pushSettledAt'>;

/** The next step of a notification as stored, given whether its user is present now. */
export function nextStep(notification: StoredState | null, present: boolean, now: Date): NextStep {
  if (!notification) return { kind: 'done', outcome: 'missing' };
  if (notification.status === 'ACKNOWLEDGED') return { kind: 'done', outcome: 'acknowledged' };
  if (notification.status === 'FAILED' || notification.pushSettledAt) return { kind: 'done', outcome: 'already-settled' };
  if (notification.status === 'PENDING' && present) return { kind: 'in-app' };
  if (notification.pushDueAt && notification.pushDueAt > now) return { kind: 'wait', until: notification.pushDueAt };
  return { kind: 'push' };
}

export type DeliveryStep =
  /** Nothing more to do. */
  | { kind: 'done'; outcome: string }
  /** Look again at `until` (the push fallback). */
  | { kind: 'wait'; until: Date }
  /** A push is to be sent now (by the notification's job: the first step sends none). */
  | { kind: 'push-due' }
  /** A push failed transiently: try again later (with backoff). */
  | { kind: 'retry'; error: string };

export interface Progress {
  /** Each notification's step; none for one that changed under the step (its job looks again). */
  steps: Map<string, DeliveryStep>;
  /** Delivered in-app by this step, committed: to be told to the user's live subscriptions. */
  deliveredInApp: Pick<Notification, 'id' | 'userId'>[];
}

export interface ProgressOptions {
  now?: Date;
  /** Send the pushes that are due (a notification's job); otherwise answer `push-due` for them (a first step). */
  sendPushes?: boolean;
  /** On the last attempt, transient push failures are final. */
  finalAttempt?: boolean;
}

/** Takes the next delivery step of each notification, as stored (`Notification` rows, fresh or read). */
export async function progressNotifications(deps: DeliveryDeps, notifications: readonly Notification[], options: ProgressOptions = {}): Promise<Progress> {
  const now = options.now ?? new Date();
  const progress: Progress = { steps: new Map(), deliveredInApp: [] };
  if (notifications.length === 0) return progress;
  const present = await Promise.all(notifications.map((n) => (n.status === 'PENDING' ? deps.presence.isPresent(n.userId) : false)));
  // A category the user turned off in-app is not delivered live: it goes as if they were away.
  const optional = notifications.filter((n, i) => present[i] && categoryOf(n.kind) === 'OFFERS');
  if (optional.length > 0) {
    const preferences = await preferencesOf(optional.map((n) => n.userId), deps.preferences.offersPushDefault);
    notifications.forEach((n, i) => {
      if (present[i] && !channelEnabled(preferences.get(n.userId)!, categoryOf(n.kind), 'IN_APP')) present[i] = false;
    });
  }
  const next = notifications.map((n, i) => ({ notification: n, step: nextStep(n, present[i]!, now) }));

  const inApp = next.filter(({ step }) => step.kind === 'in-app').map(({ notification }) => notification);
  const delivered = new Set(await recordInAppDeliveries(inApp.map((n) => n.id), now, deps.fallbackMs));
  for (const n of inApp) {
    if (!delivered.has(n.id)) continue; // acknowledged or delivered by someone else meanwhile: no answer, its job looks again
    // The push follows after the fallback delay, or later when it is held for quiet hours.
    const until = Math.max(now.getTime() + deps.fallbackMs, n.pushDueAt?.getTime() ?? 0);
    progress.steps.set(n.id, { kind: 'wait', until: new Date(until) });
    progress.deliveredInApp.push({ id: n.id, userId: n.userId });
  }
  for (const { notification, step } of next) {
    if (step.kind === 'done' || step.kind === 'wait') progress.steps.set(notification.id, step);
  }

  const due = next.filter(({ step }) => step.kind === 'push').map(({ notification }) => notification);
  for (const [id, step] of await pushSteps(deps, due, options, now)) progress.steps.set(id, step);
  return progress;
}

/** The steps of notifications whose push is due: settled SKIPPED, held for quiet hours, sent, or left to the job. */
async function pushSteps(deps: DeliveryDeps, due: Notification[], options: ProgressOptions, now: Date): Promise<Map<string, DeliveryStep>> {
  const steps = new Map<string, DeliveryStep>();
  if (due.length === 0) return steps;
  const skip = async (notifications: Notification[], reason: DeliveryReason) => {
    for (const id of await recordPushSkipped(notifications, reason, now)) steps.set(id, { kind: 'done', outcome: 'push-skipped' });
  };
  if (deps.push.disabledReason) {
    await skip(due, 'PUSH_NOT_CONFIGURED');
    return steps;
  }
  const [preferences, offers, withDevices] = await Promise.all([
    preferencesOf(due.map((n) => n.userId), deps.preferences.offersPushDefault),
    offersOf(due),
    usersWithDevices(due.map((n) => n.userId)),
  ]);
  // Those with nothing to send are settled together, one statement per reason (a campaign's
  // batch whose offers ended meanwhile is a thousand of them).
  const closed = due.filter((n) => needsOpenOffer(n.kind) && !isOpenOffer(n.offerId ? offers.get(n.offerId) : undefined, now));
  await skip(closed, 'OFFER_NO_LONGER_OPEN');
  const closedIds = new Set(closed.map((n) => n.id));
  const noDevice = due.filter((n) => !closedIds.has(n.id) && !withDevices.has(n.userId));
  await skip(noDevice, 'NO_DEVICE');
  const settled = new Set([...closedIds, ...noDevice.map((n) => n.id)]);
  // Decided together, recorded together: one statement per reason skipped, one for every hold
  // (a campaign's batch holds hundreds at once). Each write passes only for a push still open
  // and due, so a push another decider took since it was read is left to that decider.
  const skips = new Map<DeliveryReason, Notification[]>();
  const holds: PushHold[] = [];
  const sends: { notification: Notification; timeSensitive: boolean }[] = [];
  for (const n of due) {
    if (settled.has(n.id)) continue;
    const decision = decidePush({
      category: categoryOf(n.kind),
      preferences: preferences.get(n.userId)!,
      now,
      releaseSpreadMs: deps.preferences.releaseSpreadMs,
      random: deps.preferences.random ?? Math.random,
    });
    if (decision.action === 'skip') skips.set(decision.reason, [...(skips.get(decision.reason) ?? []), n]);
    else if (decision.action === 'defer') holds.push({ id: n.id, until: decision.until, reason: decision.reason });
    else if (!options.sendPushes) steps.set(n.id, { kind: 'push-due' });
    else sends.push({ notification: n, timeSensitive: decision.timeSensitive });
  }
  for (const [reason, notifications] of skips) await skip(notifications, reason);
  const until = new Map(holds.map((h) => [h.id, h.until]));
  for (const id of await recordPushesDeferred(holds, now)) steps.set(id, { kind: 'wait', until: until.get(id)! });
  const outcomes = await sendPushes(
    deps.push,
    deps.logger,
    sends.map(({ notification: n, timeSensitive }) => ({
      notification: n,
      timeSensitive,
      offerExpiresAt: needsOpenOffer(n.kind) ? ((n.offerId ? offers.get(n.offerId) : undefined)?.expiresAt ?? null) : null,
    })),
    { finalAttempt: options.finalAttempt ?? true, claimMs: deps.pushClaimMs },
    now,
  );
  await skip(sends.filter(({ notification: n }) => outcomes.get(n.id)?.kind === 'no-device').map((s) => s.notification), 'NO_DEVICE');
  for (const [id, sent] of outcomes) {
    if (sent.kind === 'retry') steps.set(id, sent);
    else if (sent.kind === 'settled') steps.set(id, { kind: 'done', outcome: sent.outcome });
    // 'taken': another decider claimed, held or settled it since it was read; no step: its job looks again.
  }
  return steps;
}

const isOpenOffer = (offer: { status: string; expiresAt: Date } | undefined, now: Date) => !!offer && offer.status === 'PENDING' && offer.expiresAt > now;

/** The offers the notifications are about: their status and expiry, for the pushes that need an open offer. */
async function offersOf(notifications: Notification[]) {
  const ids = [...new Set(notifications.flatMap((n) => (n.offerId ? [n.offerId] : [])))];
  if (ids.length === 0) return new Map<string, { status: string; expiresAt: Date }>();
  const rows = await hotQuery<{ id: string; status: string; expiresAt: Date }>('offers of notifications', Prisma.sql`
    SELECT id::text AS id, status::text AS status, expires_at AS "expiresAt" FROM credit_offers WHERE id = ANY(${ids}::uuid[])`);
  return new Map(rows.map((o) => [o.id, o]));
}

async function usersWithDevices(userIds: string[]): Promise<Set<string>> {
  const rows = await hotQuery<{ userId: string }>('users with devices', Prisma.sql`
    SELECT DISTINCT user_id AS "userId" FROM devices WHERE user_id = ANY(${userIds}::text[])`);
  return new Set(rows.map((r) => r.userId));
}
