// The push decision and quiet hours in the user's zone, daylight-saving changes included.
import { describe, expect, it } from 'vitest';
import { decidePush } from '../../src/domain/push-decision.ts';
import { channelEnabled, defaultPreferences, validatePreferencesUpdate, type Preferences } from '../../src/domain/preference-rules.ts';
import { quietHoursEnd } from '../../src/domain/quiet-hours.ts';

const night = { enabled: true, start: '22:00', end: '08:00' };
const at = (iso: string) => new Date(iso);
const prefs = (over: Partial<Preferences> = {}): Preferences => ({ ...defaultPreferences(true), ...over });
const decide = (category: 'OFFERS' | 'CREDIT_UPDATES' | 'ACCOUNT_NOTICES', preferences: Preferences, now: Date, random = () => 0) =>
  decidePush({ category, preferences, now, releaseSpreadMs: 1_800_000, random });

describe('quiet hours', () => {
  it('hold an offer push at 23:00 in São Paulo until 08:00 there, plus the spread', () => {
    // 23:00 in São Paulo (UTC-3, no daylight saving since 2019) is 02:00Z.
    const decision = decide('OFFERS', prefs(), at('2026-06-10T02:00:00Z'), () => 0.5);
    expect(decision).toEqual({ action: 'defer', reason: 'QUIET_HOURS', until: at('2026-06-10T11:15:00Z') });
  });

  it('let it go outside them, and at their end exactly', () => {
    expect(decide('OFFERS', prefs(), at('2026-06-10T15:00:00Z'))).toEqual({ action: 'send', timeSensitive: false });
    expect(quietHoursEnd(night, 'America/Sao_Paulo', at('2026-06-10T11:00:00Z'))).toBeNull();
    expect(quietHoursEnd(night, 'America/Sao_Paulo', at('2026-06-10T10:59:00Z'))).toEqual(at('2026-06-10T11:00:00Z'));
  });

  it('a window that does not span midnight', () => {
    const lunch = { enabled: true, start: '12:00', end: '14:00' };
    expect(quietHoursEnd(lunch, 'Europe/Lisbon', at('2026-01-15T12:30:00Z'))).toEqual(at('2026-01-15T14:00:00Z'));
    expect(quietHoursEnd(lunch, 'Europe/Lisbon', at('2026-01-15T23:30:00Z'))).toBeNull();
    expect(quietHoursEnd({ ...lunch, enabled: false }, 'Europe/Lisbon', at('2026-01-15T12:30:00Z'))).toBeNull();
  });

  it('end at 08:00 local across the spring-forward night in New York (8 hours after 23:00, not 9)', () => {
    // 2026-03-08 02:00 EST becomes 03:00 EDT. 23:00 EST on the 7th is 04:00Z; 08:00 EDT is 12:00Z.
    expect(quietHoursEnd(night, 'America/New_York', at('2026-03-08T04:00:00Z'))).toEqual(at('2026-03-08T12:00:00Z'));
  });

  it('end at 08:00 local across the fall-back night in New York (10 hours after 23:00)', () => {
    // 2026-11-01 02:00 EDT becomes 01:00 EST. 23:00 EDT on Oct 31 is 03:00Z; 08:00 EST is 13:00Z.
    expect(quietHoursEnd(night, 'America/New_York', at('2026-11-01T03:00:00Z'))).toEqual(at('2026-11-01T13:00:00Z'));
  });

  it('end at 08:00 local across the EU change in Berlin', () => {
    // 2026-03-29 02:00 CET becomes 03:00 CEST: 23:00 CET on the 28th is 22:00Z; 08:00 CEST is 06:00Z.
    expect(quietHoursEnd(night, 'Europe/Berlin', at('2026-03-28T22:00:00Z'))).toEqual(at('2026-03-29T06:00:00Z'));
  });

  it('a quiet-hours end inside the skipped hour lands just after the gap', () => {
    const early = { enabled: true, start: '01:00', end: '02:30' };
    // 01:30 EST on the spring-forward day (06:30Z): 02:30 does not exist; 03:30 EDT (07:30Z) is the same instant as 02:30 EST.
    expect(quietHoursEnd(early, 'America/New_York', at('2026-03-08T06:30:00Z'))).toEqual(at('2026-03-08T07:30:00Z'));
  });
});

describe('the push decision', () => {
  it('sends credit updates and account notices during quiet hours, as time-sensitive', () => {
    const now = at('2026-06-10T02:00:00Z');
    expect(decide('CREDIT_UPDATES', prefs(), now)).toEqual({ action: 'send', timeSensitive: true });
    expect(decide('ACCOUNT_NOTICES', prefs(), now)).toEqual({ action: 'send', timeSensitive: true });
  });

  it('skips a push the user turned off, with the reason; a required one cannot be off', () => {
    const off = prefs({
      choices: [
        { category: 'OFFERS', channel: 'PUSH', enabled: false },
        { category: 'CREDIT_UPDATES', channel: 'PUSH', enabled: false },
        { category: 'ACCOUNT_NOTICES', channel: 'PUSH', enabled: false },
      ],
    });
    const noon = at('2026-06-10T15:00:00Z');
    expect(decide('OFFERS', off, noon)).toEqual({ action: 'skip', reason: 'CHANNEL_DISABLED' });
    expect(decide('CREDIT_UPDATES', off, noon)).toEqual({ action: 'skip', reason: 'CHANNEL_DISABLED' });
    expect(decide('ACCOUNT_NOTICES', off, noon)).toEqual({ action: 'send', timeSensitive: true });
  });

  it('takes the offer-push default for users who never chose', () => {
    expect(channelEnabled(defaultPreferences(false), 'OFFERS', 'PUSH')).toBe(false);
    expect(channelEnabled(defaultPreferences(true), 'OFFERS', 'PUSH')).toBe(true);
    expect(channelEnabled(defaultPreferences(false), 'OFFERS', 'IN_APP')).toBe(true);
  });
});

describe('an update of the preferences', () => {
  it('refuses turning off a required setting, naming the field', () => {
    const refused = validatePreferencesUpdate({ channels: [{ category: 'OFFERS', channel: 'PUSH', enabled: false }, { category: 'CREDIT_UPDATES', channel: 'IN_APP', enabled: false }] });
    expect(refused).toMatchObject({ field: 'input.channels.1.enabled' });
  });

  it('refuses an unknown zone and times that are not HH:MM', () => {
    expect(validatePreferencesUpdate({ timeZone: 'Mars/Olympus_Mons' })).toMatchObject({ field: 'input.timeZone' });
    expect(validatePreferencesUpdate({ quietHours: { enabled: true, start: '24:00', end: '08:00' } })).toMatchObject({ field: 'input.quietHours.start' });
    expect(validatePreferencesUpdate({ quietHours: { enabled: true, start: '22:00', end: '8:00' } })).toMatchObject({ field: 'input.quietHours.end' });
    expect(validatePreferencesUpdate({ timeZone: 'America/New_York', quietHours: { enabled: false, start: '23:30', end: '07:15' } })).toBeNull();
  });
});

describe('a campaign held by quiet hours', () => {
  it('is released spread over the window after they end, not at once', () => {
    // A seeded generator (mulberry32): the same draws every run.
    let seed = 42;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const now = at('2026-06-10T02:00:00Z'); // 23:00 in São Paulo
    const end = at('2026-06-10T11:00:00Z').getTime();
    const perSecond = new Map<number, number>();
    for (let i = 0; i < 10_000; i++) {
      const decision = decidePush({ category: 'OFFERS', preferences: prefs(), now, releaseSpreadMs: 1_800_000, random });
      if (decision.action !== 'defer') throw new Error('expected a held push');
      const second = Math.floor((decision.until.getTime() - end) / 1000);
      expect(second).toBeGreaterThanOrEqual(0);
      expect(second).toBeLessThan(1800);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    }
    // 10,000 over 1,800 s is about 5.6 a second; none of the seconds gets a burst.
    expect(perSecond.size).toBeGreaterThan(1700);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(20);
  });
});
