// The live stream of one deployment, built from its audit trail. Race-free: listen on Redis
// first, then read Postgres, and send each event once, in sequence order, whatever the order
// or duplication of Redis messages. A message carries the committed events it announces: when
// they follow the last event sent, they are sent as they are (no read of the trail); when they
// do not (a message lost, reordered, or from an older publisher), the stream reloads from the
// trail, so nothing is missed or repeated either way.
import { Repeater } from 'graphql-yoga';
import type { DeploymentEvent } from '../platform/db.ts';
import { eventsAfter, isFinal, newestEvent } from '../domain/deployment-events.ts';
import { eventFromMessage, type DeploymentChanged, type LiveUpdates } from './live-updates.ts';
import { liveStreams } from './stream-metrics.ts';
import { contextFrom, inSpan, SpanKind, type TraceCarrier } from '../platform/tracing.ts';

export interface DeploymentStreamOptions {
  /** Replay every event after this sequence first; without it, start from the newest event. */
  afterSequence?: number | null;
  /** Last resort: re-read the trail this often even without a Redis message (a publish can fail). */
  pollMs?: number;
  /** The deployment's channel, subscribed already (listenEarly): the stream takes it over. */
  early?: EarlyListener;
}

/** How long a channel subscribed early waits for its stream to take it over before it is dropped (a stream never started). */
const CLAIM_MS = 30_000;

export interface EarlyListener {
  /** Hands the channel's messages (those buffered first) to `onMessage`; resolves with the subscription once Redis confirmed it. */
  claim(onMessage: (message: DeploymentChanged) => void): Promise<number>;
  /** No stream will take it over (the caller may not see the deployment). */
  drop(): void;
}

/**
 * Subscribes to a deployment's channel now, before its stream starts: the caller checks who may
 * see the deployment meanwhile, so the SUBSCRIBE's round trip and the check's overlap instead of
 * following each other (the stream's first read must wait for the subscription, not for the
 * check). Messages that arrive before the stream takes the channel over are kept for it.
 */
export function listenEarly(liveUpdates: LiveUpdates, deploymentId: string): EarlyListener {
  let handler: ((message: DeploymentChanged) => void) | null = null;
  const buffered: DeploymentChanged[] = [];
  let state: 'waiting' | 'claimed' | 'dropped' = 'waiting';
  const subscribed = liveUpdates.subscribe('deployment', deploymentId, (message) => (handler ? handler(message) : buffered.push(message)));
  // Its failure is the stream's to report (claim); until then it must not count as unhandled.
  subscribed.catch(() => undefined);
  const unsubscribe = () => void subscribed.then((id) => liveUpdates.unsubscribe(id), () => undefined);
  const dropUnclaimed = setTimeout(() => {
    if (state !== 'waiting') return;
    state = 'dropped';
    unsubscribe();
  }, CLAIM_MS);
  dropUnclaimed.unref();
  return {
    async claim(onMessage) {
      clearTimeout(dropUnclaimed);
      if (state === 'dropped') return liveUpdates.subscribe('deployment', deploymentId, onMessage);
      state = 'claimed';
      const id = await subscribed;
      handler = onMessage;
      for (const message of buffered.splice(0)) onMessage(message);
      return id;
    },
    drop() {
      clearTimeout(dropUnclaimed);
      if (state !== 'waiting') return;
      state = 'dropped';
      unsubscribe();
    },
  };
}

/** What a wait that nobody woke resolves with. */
const TIMED_OUT = Symbol('timed out');

/** Resolves when woken or after `ms` (with TIMED_OUT), whichever comes first; a wake before the wait is kept. */
class Wakeup {
  private pending = false;
  private resolve: (() => void) | null = null;

  wake() {
    this.pending = true;
    this.resolve?.();
  }

  wait(ms: number, stop: Promise<unknown>): Promise<unknown> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    let timer: NodeJS.Timeout | undefined;
    const woken = new Promise<unknown>((resolve) => {
      this.resolve = () => resolve(undefined);
      timer = setTimeout(() => resolve(TIMED_OUT), ms);
    });
    return Promise.race([woken, stop]).finally(() => {
      clearTimeout(timer);
      this.resolve = null;
      this.pending = false;
    });
  }
}

/** How soon a stream reads the trail again after the database did not answer. */
const RETRY_READ_MS = 1_000;

export function deploymentStream(liveUpdates: LiveUpdates, deploymentId: string, options: DeploymentStreamOptions = {}) {
  // Spread over ±20%: streams opened together must not all poll together.
  const pollMs = (options.pollMs ?? 60_000) * (0.8 + 0.4 * Math.random());
  return new Repeater<DeploymentEvent>(async (push, stop) => {
    const wakeup = new Wakeup();
    let sent = options.afterSequence ?? null;
    // The trace of the publish that woke the stream: the messages it sends continue it.
    let wokenBy: TraceCarrier | undefined;
    // Messages received since the loop last looked, in arrival order; handled by the loop only,
    // so that sending never runs twice at once.
    let inbox: DeploymentChanged[] = [];
    // Whether the trail must be read: at the start of a resume, after a gap, a reconnection of
    // the Redis subscriber, a safety poll, or a failed read.
    let mustRead = sent !== null;
    const onMessage = (message: DeploymentChanged) => {
      if (sent !== null && message.sequence <= sent) return;
      inbox.push(message);
      wokenBy = message.trace;
      wakeup.wake();
    };
    const subscription = await (options.early ? options.early.claim(onMessage) : liveUpdates.subscribe('deployment', deploymentId, onMessage));
    const send = (event: DeploymentEvent) =>
      inSpan(
        'deployment stream message',
        {
          kind: SpanKind.PRODUCER,
          parent: contextFrom(wokenBy),
          attributes: { correlation_id: event.correlationId, 'deployment.id': deploymentId, 'deployment.event.sequence': event.sequence },
        },
        () => push(event),
      );
    // Messages published while Redis was unreachable are lost: re-read the trail on reconnection.
    const stopWatchingReconnects = liveUpdates.onReconnect(() => {
      mustRead = true;
      wakeup.wake();
    });
    liveStreams.inc({ stream: 'deployment' });
    try {
      let stopped = false;
      void stop.then(() => (stopped = true));
      if (sent === null) {
        const newest = await newestEvent(deploymentId);
        if (!newest) return;
        await send(newest);
        sent = newest.sequence;
        if (isFinal(newest.status)) return;
        // Whatever committed after this read is announced by a message that arrives after the
        // subscription above: the inbox has it, or will.
      }
      while (!stopped) {
        // The messages' own events, as long as each follows the last one sent.
        const messages = inbox;
        inbox = [];
        for (const message of messages) {
          for (const event of message.events ?? []) {
            if (event.sequence <= sent!) continue;
            if (event.sequence !== sent! + 1) {
              mustRead = true;
              break;
            }
            const carried = eventFromMessage(deploymentId, event);
            await send(carried);
            sent = carried.sequence;
            if (isFinal(carried.status)) return;
          }
          // A message that announces more than it carries (an older publisher's) means a read.
          if (message.sequence > sent!) mustRead = true;
        }
        if (mustRead) {
          mustRead = false;
          let events: DeploymentEvent[];
          try {
            events = await eventsAfter(deploymentId, sent!);
          } catch {
            // The database is unreachable (restarting, failing over): the stream stays open and
            // reads again shortly, sending what happened meanwhile once it answers.
            mustRead = true;
            await wakeup.wait(RETRY_READ_MS, stop);
            continue;
          }
          for (const event of events) {
            await send(event);
            sent = event.sequence;
            if (isFinal(event.status)) return;
          }
        }
        if (inbox.length > 0) continue;
        // Woken by a message (or a reconnection), or the safety poll's time is up: then read.
        const woken = await wakeup.wait(pollMs, stop);
        if (woken === TIMED_OUT) mustRead = true;
      }
    } finally {
      liveStreams.dec({ stream: 'deployment' });
      stopWatchingReconnects();
      liveUpdates.unsubscribe(subscription);
      stop();
    }
  });
}
