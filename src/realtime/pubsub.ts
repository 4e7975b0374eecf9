// Typed Redis pub/sub between workers and API processes. Payloads are small: ids, status,
// sequence. Subscribers reload from Postgres what they show.
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { config } from '../config.ts';
import { closeRedis, createRedis } from '../redis.ts';
import type { CreditDeploymentStatus } from '../db.ts';

export interface DeploymentChanged {
  deploymentId: string;
  sequence: number;
  type: string;
  status: CreditDeploymentStatus;
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

export function channel(topic: Topic, key: string): string {
  return `${config.REDIS_PREFIX}:${topic}:${key}`;
}

export class Realtime {
  private readonly publisher = createRedis('publisher');
  private readonly subscriber = createRedis('subscriber');
  private readonly pubsub = new RedisPubSub({ publisher: this.publisher, subscriber: this.subscriber });
  private readonly reconnectListeners = new Set<() => void>();

  constructor() {
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

  publish<T extends Topic>(topic: T, key: string, payload: RealtimeEvents[T]): Promise<void> {
    return this.pubsub.publish(channel(topic, key), payload);
  }

  /** Resolves once Redis confirms the subscription: messages published after that are received. */
  subscribe<T extends Topic>(topic: T, key: string, onMessage: (payload: RealtimeEvents[T]) => void): Promise<number> {
    return this.pubsub.subscribe(channel(topic, key), onMessage);
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
