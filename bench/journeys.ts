// Figures 1 and 2: closed-loop users, each repeating what the app does: the credit engine issues
// an offer, the user accepts it, then watches the deployment until DEPLOYED. Only the accept
// round trip and accept -> DEPLOYED are timed; issuing is set-up.
import type { Client } from 'graphql-ws';
import { acceptOffer, engineToken, issueOffer, newUser, openSocket, untilDeployed, type User } from './api-client.ts';
import { median, medianSummary, since, summarize, type LatencySummary } from './stats.ts';

export interface JourneyResult {
  users: number;
  journeys: number;
  /** Completed journeys per second over the whole level (issue + accept + DEPLOYED). */
  journeysPerSecond: number;
  acceptMs: LatencySummary;
  acceptToDeployedMs: LatencySummary;
  /** Where the CPU went, when the caller measured it: per journey, and the whole machine's share. */
  cpu?: { apiMsPerJourney: number; workerMsPerJourney: number; machineBusyPercent: number };
}

interface Samples {
  accept: number[];
  deployed: number[];
}

/** One journey. The socket is already open, as in an app that is on screen. */
async function journey(url: string, engine: string, user: User, socket: Client, samples: Samples): Promise<void> {
  const offerId = await issueOffer(url, engine, user.id);
  const start = performance.now();
  const deploymentId = await acceptOffer(url, user, offerId);
  samples.accept.push(since(start));
  // Subscribing after the answer misses nothing: the stream's first message is the current state.
  await untilDeployed(socket, deploymentId);
  samples.deployed.push(since(start));
}

/** `users` users in parallel, each starting its next journey when the last one ended, `total` in all. */
export async function runJourneys(url: string, users: number, total: number): Promise<JourneyResult> {
  const engine = await engineToken();
  const people = await Promise.all(Array.from({ length: users }, (_, i) => newUser(`u${users}x${i}`)));
  const sockets = await Promise.all(people.map((p) => openSocket(url, p.token)));
  const samples: Samples = { accept: [], deployed: [] };
  let started = 0;
  const loop = async (i: number) => {
    while (started < total) {
      started += 1;
      await journey(url, engine, people[i]!, sockets[i]!, samples);
    }
  };
  const begin = performance.now();
  try {
    await Promise.all(people.map((_, i) => loop(i)));
  } finally {
    await Promise.all(sockets.map((s) => s.dispose()));
  }
  const elapsedMs = since(begin);
  return {
    users,
    journeys: total,
    journeysPerSecond: Math.round((total / elapsedMs) * 1000 * 10) / 10,
    acceptMs: summarize(samples.accept),
    acceptToDeployedMs: summarize(samples.deployed),
  };
}

/** Repetitions of one level: each figure the median of the repetitions' (latency rows are medians of 3 runs). */
export function medianJourney(runs: JourneyResult[]): JourneyResult {
  const cpus = runs.map((r) => r.cpu).filter((c) => c !== undefined);
  const med = <T>(items: T[], pick: (x: T) => number) => median(items.map(pick));
  return {
    users: runs[0]!.users,
    journeys: runs.reduce((n, r) => n + r.journeys, 0),
    journeysPerSecond: med(runs, (r) => r.journeysPerSecond),
    acceptMs: medianSummary(runs.map((r) => r.acceptMs)),
    acceptToDeployedMs: medianSummary(runs.map((r) => r.acceptToDeployedMs)),
    ...(cpus.length > 0
      ? {
          cpu: {
            apiMsPerJourney: med(cpus, (c) => c.apiMsPerJourney),
            workerMsPerJourney: med(cpus, (c) => c.workerMsPerJourney),
            machineBusyPercent: med(cpus, (c) => c.machineBusyPercent),
          },
        }
      : {}),
  };
}
