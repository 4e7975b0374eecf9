// Notifications through the real API, plus the two things a test needs to see from outside the
// API: whether a user counts as present, and when a notification's job has finished.
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, expect } from 'vitest';
import { loadConfig } from '../../src/platform/config.ts';
import { enqueueNotification } from '../../src/jobs/producers.ts';
import { NOTIFICATION_QUEUE, type NotificationJob, type NotificationQueue } from '../../src/jobs/queues.ts';
import { Presence } from '../../src/realtime/presence.ts';
import { createRedis } from '../../src/platform/redis.ts';
import { gql } from './client.ts';
import { presenceOptions, testRedis } from './settings.ts';
import { waitUntil } from './wait.ts';

const config = loadConfig();

export const NOTIFICATION_FIELDS = /* GraphQL */ `
  id kind status title body deepLink createdAt acknowledgedAt
  deliveries { channel status at error }
`;

export const MY_NOTIFICATIONS = /* GraphQL */ `
  query Mine($unacknowledgedOnly: Boolean) { me { notifications(unacknowledgedOnly: $unacknowledgedOnly) { ${NOTIFICATION_FIELDS} } } }
`;

export const NOTIFICATIONS_SUBSCRIPTION = /* GraphQL */ `
  subscription Live { notifications { ${NOTIFICATION_FIELDS} } }
`;

export const REGISTER_DEVICE = /* GraphQL */ `
  mutation Register($token: String!, $platform: DevicePlatform!) {
    registerDevice(token: $token, platform: $platform) {
      __typename
      ... on RegisterDeviceSuccess { device { id platform createdAt } }
      ... on ValidationError { message field }
    }
  }
`;

export const ACKNOWLEDGE = /* GraphQL */ `
  mutation Ack($id: ID!) {
    acknowledgeNotification(id: $id) {
      __typename
      ... on AcknowledgeNotificationSuccess { notification { ${NOTIFICATION_FIELDS} } }
      ... on Error { message }
    }
  }
`;

export async function registerDevice(url: string, userToken: string, token: string, platform: 'IOS' | 'ANDROID' = 'ANDROID') {
  const result = await gql(url, REGISTER_DEVICE, { token, platform }, userToken);
  expect(result.errors).toBeUndefined();
  return result.data.registerDevice;
}

export async function myNotifications(url: string, userToken: string, unacknowledgedOnly = false) {
  const result = await gql(url, MY_NOTIFICATIONS, { unacknowledgedOnly }, userToken);
  expect(result.errors).toBeUndefined();
  return result.data.me.notifications as any[];
}

/** Polls the user's notifications until one matches (for tests with no live subscription). */
export async function waitForNotification(url: string, userToken: string, predicate: (n: any) => boolean, timeoutMs = 10_000) {
  return waitUntil(async () => (await myNotifications(url, userToken)).find(predicate), 'a matching notification', timeoutMs);
}

/** Reads a stream message by message, so a test can act between them. */
export function reader<T>(stream: AsyncGenerator<T>) {
  return {
    next: async () => (await stream.next()).value as T,
    close: async () => void (await stream.return(undefined)),
  };
}

/**
 * The first notification of `kind` on a notifications stream, skipping others (an offer's own
 * OFFER_RECEIVED comes first when its job runs after the stream opened). Iterating starts the
 * subscription at once.
 */
export async function firstOfKind(stream: AsyncGenerator<any>, kind: string) {
  for await (const message of stream) if (message.data?.notifications?.kind === kind) return message.data.notifications;
  throw new Error(`the notifications stream ended without ${kind}`);
}

/** Presence as the workers see it, from a connection of the test's own. */
export function presenceProbe() {
  const redis = createRedis('publisher', testRedis);
  const presence = new Presence(redis, presenceOptions());
  return {
    isPresent: (userId: string) => presence.isPresent(userId),
    /** Resolves once the user's subscription counts as live in Redis. */
    waitUntilPresent: (userId: string) => waitUntil(() => presence.isPresent(userId), `presence of ${userId}`),
    close: () => redis.quit(),
  };
}

/** The notifications queue, seen from the test: wait for a job to finish, or run it again. */
export function notificationJobs() {
  // Connection options, not connections: BullMQ then opens and closes its own.
  const { hostname, port } = new URL(config.REDIS_URL);
  const connection = { host: hostname, port: Number(port || 6379), maxRetriesPerRequest: null };
  const queue: NotificationQueue = new Queue(NOTIFICATION_QUEUE, { connection, prefix: config.REDIS_PREFIX });
  const events = new QueueEvents(NOTIFICATION_QUEUE, { connection, prefix: config.REDIS_PREFIX });
  const ready = events.waitUntilReady();
  return {
    queue,
    /** Resolves when the notification's job has completed (or rejects when it failed). */
    async finished(notificationId: string, timeoutMs = 10_000) {
      await ready;
      const job = await waitUntil(() => queue.getJob(notificationId), `the job of ${notificationId}`, timeoutMs);
      return job.waitUntilFinished(events, timeoutMs);
    },
    /** Runs a finished job once more, as a crash after its work or a duplicate delivery would. */
    async runAgain(job: NotificationJob) {
      await queue.remove(job.notificationId);
      await enqueueNotification(queue, job);
    },
    async close() {
      await events.close();
      await queue.close();
    },
  };
}

/** The notification job and presence probes of a test file: made before its tests, closed after. */
export function notificationProbesForTests() {
  const probes = {} as { jobs: ReturnType<typeof notificationJobs>; presence: ReturnType<typeof presenceProbe> };
  beforeAll(() => {
    probes.jobs = notificationJobs();
    probes.presence = presenceProbe();
  });
  afterAll(async () => {
    await probes.jobs.close();
    await probes.presence.close();
  });
  return probes;
}
