// Typed Redis pub/sub between workers and API processes. Payloads are small: ids, status,
// sequence; a deployment's message also carries the audit events it announces, so a stream that
// has sent everything before them sends them as they are, without reading the trail again
// (a stream that finds a gap still reloads from the trail).
//
// On a Redis Cluster this is classic pub/sub: a PUBLISH to any node reaches the subscribers of
// every node (the cluster bus broadcasts it), and each process keeps one subscriber connection
// (ioredis moves it to another node when its node goes). Sharded pub/sub would need a
// subscriber connection per master in every API process and is not what
// graphql-redis-subscriptions speaks; our messages are few and tiny (docs/scaling.md).
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { CreditDeploymentStatus, DeploymentEvent } from '../platform/db.ts';
import { Cluster } from 'ioredis';
import { closeRedis, createRedis, type RedisClient, type RedisSettings } from '../platform/redis.ts';
import { inSpan, SpanKind, traceCarrier, type TraceCarrier } from '../platform/tracing.ts';

/** An audit event as it travels in a message (JSON: the id as a string, the time as ISO 8601). */
export interface PublishedEvent {
  id: string;
  sequence: number;
  type: string;
  status: CreditDeploymentStatus;
  at: string;
  correlationId: string;
  detail: DeploymentEvent['detail'];
}

export interface DeploymentChanged {
  deploymentId: string;
  /** The newest event's sequence, type and status. */
  sequence: number;
  type: string;
  status: CreditDeploymentStatus;
  /** The committed events this message announces, oldest first (absent from older publishers). */
  events?: PublishedEvent[];
  /** The publisher's trace: the stream's message to its subscriber continues it. */
  trace?: TraceCarrier;
}

export interface NotificationCreated {
  notificationId: string;
  userId: string;
}

/** Every channel, with the payload it carries. */
export interface LiveMessages {
  deployment: DeploymentChanged;
  notifications: NotificationCreated;
}

export type Topic = keyof LiveMessages;

export interface LiveUpdatesSettings extends RedisSettings {
  /** Prefix of every channel (the service's Redis prefix). */
  prefix: string;
}

export class LiveUpdates {
  private readonly publisher: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closing = false;
  private readonly pubsub: RedisPubSub;
  private readonly reconnectListeners = new Set<() => void>();
  private readonly prefix: string;
  private readonly logger: LiveUpdatesSettings['logger'];

  constructor(settings: LiveUpdatesSettings) {
    this.prefix = settings.prefix;
    this.logger = settings.logger;
    this.publisher = createRedis('publisher', settings);
    this.subscriber = createRedis('subscriber', settings);
    this.handleUnsubscribeFailures(this.subscriber);
    this.pubsub = new RedisPubSub({ publisher: this.publisher, subscriber: this.subscriber });
    // Messages published while the subscriber was disconnected are gone: tell the streams, so
    // they re-read what they show from Postgres.
    let connectedBefore = false;
    this.subscriber.on('ready', () => {
      if (connectedBefore) for (const listener of this.reconnectListeners) listener();
      connectedBefore = true;
    });
    if (this.subscriber instanceof Cluster) this.watchClusterNodes(this.subscriber);
  }

  /**
   * A cluster's subscriber connection moves to another node when its node dies, without a
   * 'ready' of the cluster; and publishes sent to a dying node are lost. When a node leaves the
   * cluster (a failover), tell the streams at once and again a moment later (the moved
   * subscription is confirmed by then), so they re-read what they show.
   */
  private watchClusterNodes(cluster: Cluster) {
    const notify = () => {
      for (const listener of this.reconnectListeners) listener();
    };
    cluster.on('-node', () => {
      if (this.closing) return; // closing drops every node
      notify();
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        notify();
      }, 2_000);
      timer.unref();
      this.timers.add(timer);
    });
  }

  /**
   * graphql-redis-subscriptions sends UNSUBSCRIBE and PUNSUBSCRIBE when a channel's last stream ends and never
   * handles its result. When the subscriber connection breaks meanwhile (a Redis outage, a
   * cluster failover moving the subscriber), the command is rejected: unhandled, that ends the
   * process. Nothing is lost by it (a broken connection is subscribed to nothing, and a moved
   * one only re-subscribes to channels that still have streams), so the rejection is traced.
   */
  private handleUnsubscribeFailures(subscriber: RedisClient) {
    type Send = (...args: unknown[]) => Promise<unknown>;
    const commands = subscriber as unknown as Record<'unsubscribe' | 'punsubscribe', Send>;
    for (const name of ['unsubscribe', 'punsubscribe'] as const) {
      const send = commands[name].bind(subscriber);
      commands[name] = (...args) => {
        const sent = send(...args);
        sent.catch((error: unknown) => this.logger.debug({ err: error, command: name }, 'unsubscribing failed on a broken connection'));
        return sent;
      };
    }
  }

  /** Calls `listener` after each reconnection of the subscriber connection; returns the undo. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  channel(topic: Topic, key: string): string {
    return `${this.prefix}:${topic}:${key}`;
  }

  publish<T extends Topic>(topic: T, key: string, payload: LiveMessages[T]): Promise<void> {
    const channel = this.channel(topic, key);
    return inSpan(`redis publish ${topic}`, { kind: SpanKind.PRODUCER, attributes: { 'messaging.destination.name': channel } }, () =>
      this.pubsub.publish(channel, { ...payload, trace: traceCarrier() }),
    );
  }

  /**
   * One message per deployment, carrying its events of this commit, oldest first: a stream whose
   * last sent event comes right before them sends them as they are; any other stream reloads
   * from the trail.
   */
  async publishDeploymentEvents(events: readonly DeploymentEvent[]): Promise<void> {
    const byDeployment = new Map<string, DeploymentEvent[]>();
    for (const event of events) byDeployment.set(event.deploymentId, [...(byDeployment.get(event.deploymentId) ?? []), event]);
    // Sent back to back (ioredis writes them without waiting for each answer).
    await Promise.all(
      [...byDeployment.entries()].map(([deploymentId, list]) => {
        const ordered = [...list].sort((a, b) => a.sequence - b.sequence);
        const newest = ordered.at(-1)!;
        return this.publish('deployment', deploymentId, {
          deploymentId,
          sequence: newest.sequence,
          type: newest.type,
          status: newest.status,
          events: ordered.map(publishedEvent),
        });
      }),
    );
  }

  publishNotification(userId: string, notificationId: string): Promise<void> {
    return this.publish('notifications', userId, { notificationId, userId });
  }

  /**
   * Resolves once Redis confirms the subscription: messages published after that are received.
   * graphql-redis-subscriptions keeps a channel's first SUBSCRIBE as a pending promise for the
   * streams that join before Redis answers, and rejects it when the SUBSCRIBE fails whether or
   * not any stream joined: unhandled, that rejection ends the process (an API process died of it
   * when a cluster master was killed). The caller gets the error from the promise returned; the
   * pending one is marked handled.
   */
  subscribe<T extends Topic>(topic: T, key: string, onMessage: (payload: LiveMessages[T]) => void): Promise<number> {
    const channel = this.channel(topic, key);
    const subscribed = this.pubsub.subscribe(channel, onMessage);
    const library = this.pubsub as unknown as { subsPendingRefsMap?: Map<string, { pending: Promise<unknown> }> };
    library.subsPendingRefsMap?.get(channel)?.pending.catch(() => undefined);
    return subscribed;
  }

  unsubscribe(subscriptionId: number): void {
    // The library sends UNSUBSCRIBE without handling its rejection: on a closed connection that
    // would be an unhandled rejection, and there is nothing left to unsubscribe from anyway.
    if (this.subscriber.status === 'end') return;
    this.pubsub.unsubscribe(subscriptionId);
  }

  /** Redis answers. */
  async ping(): Promise<boolean> {
    return (await this.publisher.ping()) === 'PONG';
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.all([closeRedis(this.subscriber), closeRedis(this.publisher)]);
  }
}

function publishedEvent(event: DeploymentEvent): PublishedEvent {
  return {
    id: String(event.id),
    sequence: event.sequence,
    type: event.type,
    status: event.status,
    // A Date from the ORM and from raw statements alike; never let a publish fail on its shape.
    at: new Date(event.at).toISOString(),
    correlationId: event.correlationId,
    detail: event.detail,
  };
}

/** The audit event a message carried, as the trail would give it. */
export function eventFromMessage(deploymentId: string, event: PublishedEvent): DeploymentEvent {
  return { ...event, id: BigInt(event.id), deploymentId, at: new Date(event.at) };
}
