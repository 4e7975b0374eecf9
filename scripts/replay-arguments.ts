// The arguments of `npm run events:replay` (scripts/events-replay.ts), checked before anything connects.
import { parseArgs } from 'node:util';
import type { ReplayFrom } from '../src/domain/outbox.ts';

export const REPLAY_USAGE = 'usage: npm run events:replay -- --from-sequence N [--user U] | --from-time ISO-8601';

/** What to replay; throws an Error that says what is wrong with the arguments. */
export function parseReplayArguments(args: string[]): ReplayFrom {
  const { values } = parseArgs({ args, options: { 'from-sequence': { type: 'string' }, 'from-time': { type: 'string' }, user: { type: 'string' } } });
  const { 'from-sequence': sequence, 'from-time': time, user } = values;
  if ((sequence === undefined) === (time === undefined)) throw new Error('give either --from-sequence or --from-time');
  if (time !== undefined) {
    if (user !== undefined) throw new Error('--user goes with --from-sequence');
    const fromTime = new Date(time);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(time) || Number.isNaN(fromTime.getTime())) throw new Error(`--from-time: not an ISO 8601 time: ${time}`);
    return { fromTime };
  }
  if (!/^[1-9]\d{0,8}$/.test(sequence!)) throw new Error(`--from-sequence: not a sequence (1 or more): ${sequence}`);
  return { fromSequence: Number(sequence), ...(user !== undefined ? { userId: user } : {}) };
}
