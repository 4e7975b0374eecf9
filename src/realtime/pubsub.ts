// Typed Redis pub/sub between workers and API processes. Payloads are small: ids, status,
// sequence. Subscribers reload from Postgres what they show.
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { LiveUpdates } from '../domain/ports.ts';
import type { CreditDeploymentStatus, DeploymentEvent } from '../platform/db.ts';
import { closeRedis, createRedis, type RedisSettings } from '../platform/redis.ts';
import { inSpan, SpanKind, traceCarrier, type TraceCarrier } from '../platform/tracing.ts';

export interface DeploymentChanged {
  deploymentId: string;
  sequence: number;
  type: string;
  status: CreditDeploymentStatus;
  /** The publisher's trace: the stream's message to its subscriber continues it. */
  trace?: TraceCarrier;
}

export interface NotificationCreated {
  notificationId: string;
  userId: string;
}

/** Every channel, with the payload it carries. */
export interface RealtimeEvents {
  deployment: DeploymentChanged;
  notifications: NotificationCreated;
}

export type Topic = keyof RealtimeEvents;

export interface RealtimeSettings extends RedisSettings {
  /** Prefix of every channel (the service's Redis prefix). */
  prefix: string;
}

export class Realtime implements LiveUpdates {
  private readonly publisher: ReturnType<typeof createRedis>;
  private readonly subscriber: ReturnType<typeof createRedis>;
  private readonly pubsub: RedisPubSub;
  private readonly reconnectListeners = new Set<() => void>();
  private readonly prefix: string;

  constructor(settings: RealtimeSettings) {
    this.prefix = settings.prefix;
    this.publisher = createRedis('publisher', settings);
    this.subscriber = createRedis('subscriber', settings);
    this.pubsub = new RedisPubSub({ publisher: this.publisher, subscriber: this.subscriber });
    // Messages published while the subscriber was disconnected are gone: tell the streams, so
    // they re-read what they show from Postgres.
    let connectedBefore = false;
    this.subscriber.on('ready', () => {
      if (connectedBefore) for (const listener of this.reconnectListeners) listener();
      connectedBefore = true;
    });
  }

  /** Calls `listener` after each reconnection of the subscriber connection; returns the undo. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  channel(topic: Topic, key: string): string {
    return `${this.prefix}:${topic}:${key}`;
  }

  publish<T extends Topic>(topic: T, key: string, payload: RealtimeEvents[T]): Promise<void> {
    const channel = this.channel(topic, key);
    return inSpan(`redis publish ${topic}`, { kind: SpanKind.PRODUCER, attributes: { 'messaging.destination.name': channel } }, () =>
      this.pubsub.publish(channel, { ...payload, trace: traceCarrier() }),
    );
  }

  /**
   * One message per deployment, for its newest event, is enough: a stream that wakes reads every
   * event it has not sent from the trail.
   */
  async publishDeploymentEvents(events: readonly DeploymentEvent[]): Promise<void> {
    const newest = new Map<string, DeploymentEvent>();
    for (const event of events) {
      const known = newest.get(event.deploymentId);
      if (!known || event.sequence > known.sequence) newest.set(event.deploymentId, event);
    }
    for (const event of newest.values()) {
      await this.publish('deployment', event.deploymentId, {
        deploymentId: event.deploymentId,
        sequence: event.sequence,
        type: event.type,
        status: event.status,
      });
    }
  }

  publishNotification(userId: string, notificationId: string): Promise<void> {
    return this.publish('notifications', userId, { notificationId, userId });
  }

  /** Resolves once Redis confirms the subscription: messages published after that are received. */
  subscribe<T extends Topic>(topic: T, key: string, onMessage: (payload: RealtimeEvents[T]) => void): Promise<number> {
    return this.pubsub.subscribe(this.channel(topic, key), onMessage);
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
    await Promise.all([closeRedis(this.subscriber), closeRedis(this.publisher)]);
  }
}
