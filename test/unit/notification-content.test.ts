// The language of a notification: the token's locale, Brazilian Portuguese by default.
import { describe, expect, it } from 'vitest';
import { languageOf, notificationText } from '../../src/domain/notification-content.ts';

describe('language choice', () => {
  it('reads the primary language of a locale, whatever its spelling', () => {
    expect(languageOf('en')).toBe('en');
    expect(languageOf('en-US')).toBe('en');
    expect(languageOf(' EN_gb ')).toBe('en');
    expect(languageOf('pt')).toBe('pt-BR');
    expect(languageOf('pt-PT')).toBe('pt-BR');
  });

  it('has no language for what it does not write in, or for nothing', () => {
    expect(languageOf('fr-FR')).toBeNull();
    expect(languageOf('')).toBeNull();
    expect(languageOf(null)).toBeNull();
    expect(languageOf(undefined)).toBeNull();
  });

  it('writes in Portuguese unless the user prefers English, with the amount as the currency writes it', () => {
    const amount = { cents: 900_000n, currency: 'BRL' };
    expect(notificationText('CREDIT_DEPLOYED', amount, null)).toEqual({
      title: 'Seu novo limite está disponível',
      body: 'Seu limite de crédito agora é de R$ 9.000,00.',
    });
    expect(notificationText('CREDIT_DEPLOYED', amount, 'fr')).toEqual(notificationText('CREDIT_DEPLOYED', amount, 'pt-BR'));
    expect(notificationText('OFFER_EXPIRED', amount, 'en-US')).toEqual({
      title: 'Your credit offer has expired',
      // The amount as the currency's country writes it, whatever the language.
      body: 'The offer of a R$ 9.000,00 limit is no longer available.',
    });
  });
});
