// The notices of a limit change are ACCOUNT_NOTICES: required on every channel (no switch turns
// them off) and never held by quiet hours; their texts name the amount and, for what is coming,
// the day it takes effect, in the user's language.
import { describe, expect, it } from 'vitest';
import { categoryOf, isRequired } from '../../src/domain/notification-categories.ts';
import { notificationText } from '../../src/domain/notification-content.ts';
import { decidePush } from '../../src/domain/push-decision.ts';
import { defaultPreferences, type Preferences } from '../../src/domain/preference-rules.ts';

const KINDS = ['LIMIT_DECREASE_SCHEDULED', 'LIMIT_DECREASED', 'LIMIT_CHANGE_CANCELLED', 'TEMPORARY_LIMIT_ENDING', 'TEMPORARY_LIMIT_ENDED'] as const;

describe('limit-change notices', () => {
  it('are ACCOUNT_NOTICES, required in-app and by push', () => {
    for (const kind of KINDS) {
      expect(categoryOf(kind), kind).toBe('ACCOUNT_NOTICES');
      expect(isRequired(categoryOf(kind), 'IN_APP') && isRequired(categoryOf(kind), 'PUSH'), kind).toBe(true);
    }
  });

  it('are pushed at once at 23:00 local, with quiet hours on and every switch the user has turned off', () => {
    // Even a stored choice of "off" (the API refuses to store one for a required pair) changes nothing.
    const preferences: Preferences = {
      ...defaultPreferences(true),
      choices: [{ category: 'ACCOUNT_NOTICES', channel: 'PUSH', enabled: false }, { category: 'ACCOUNT_NOTICES', channel: 'IN_APP', enabled: false }],
    };
    const decision = decidePush({ category: categoryOf('LIMIT_DECREASE_SCHEDULED'), preferences, now: new Date('2026-06-10T02:00:00Z'), releaseSpreadMs: 1_800_000, random: () => 0 });
    expect(decision).toEqual({ action: 'send', timeSensitive: true });
  });

  it('say the amount and the day, in Portuguese or English', () => {
    const amount = { cents: 600_000n, currency: 'BRL' };
    const day = new Date('2027-01-06T15:00:00Z');
    expect(notificationText('LIMIT_DECREASE_SCHEDULED', amount, null, null, day).body).toBe('Seu limite será reduzido para R$ 6.000,00 em 06/01/2027. Toque para ver os detalhes.');
    expect(notificationText('LIMIT_DECREASE_SCHEDULED', amount, 'en', null, day).body).toBe('Your limit will be lowered to R$ 6.000,00 on January 6, 2027. Tap for details.');
    expect(notificationText('TEMPORARY_LIMIT_ENDING', amount, 'pt-BR', null, day).body).toBe('Em 06/01/2027 seu limite volta a ser de R$ 6.000,00.');
  });
});
