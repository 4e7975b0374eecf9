// The arguments of `npm run events:replay`: checked before anything connects.
import { describe, expect, it } from 'vitest';
import { parseReplayArguments } from '../../scripts/replay-arguments.ts';

describe('events:replay arguments', () => {
  it('name a sequence (of one user or of all) or a time; anything else is refused', () => {
    expect(parseReplayArguments(['--from-sequence', '3', '--user', 'u'])).toEqual({ fromSequence: 3, userId: 'u' });
    expect(parseReplayArguments(['--from-time', '2026-11-29T10:00:00Z'])).toEqual({ fromTime: new Date('2026-11-29T10:00:00Z') });
    for (const args of [[], ['--from-sequence', '0'], ['--from-sequence', '1.5'], ['--from-time', 'yesterday'], ['--from-sequence', '1', '--from-time', '2026-11-29T10:00:00Z'], ['--from-time', '2026-11-29T10:00:00Z', '--user', 'u'], ['--from-sequence', '1', '--all']]) {
      expect(() => parseReplayArguments(args), args.join(' ')).toThrow();
    }
  });
});
