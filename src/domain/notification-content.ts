// What a notification says: title and body in the user's language, and where it leads in the app.
import type { NotificationKind } from '../platform/db.ts';
import { formatMoney, type Money } from './money.ts';

export type Language = 'pt-BR' | 'en';

/** The language of a locale tag ("en", "en-US", "pt-BR"...); null for ones we do not write in. */
export function languageOf(locale: string | null | undefined): Language | null {
  if (!locale) return null;
  const primary = locale.trim().toLowerCase().split(/[-_]/)[0];
  if (primary === 'en') return 'en';
  if (primary === 'pt') return 'pt-BR';
  return null;
}

type Texts = Record<NotificationKind, (amount: string) => { title: string; body: string }>;

const TEXTS: Record<Language, Texts> = {
  'pt-BR': {
    CREDIT_DEPLOYED: (amount) => ({
      title: 'Seu novo limite está disponível',
      body: `Seu limite de crédito agora é de ${amount}.`,
    }),
    CREDIT_DEPLOYMENT_FAILED: (amount) => ({
      title: 'Não foi possível liberar seu novo limite',
      body: `Não conseguimos aplicar o limite de ${amount}. Toque para ver os detalhes.`,
    }),
    OFFER_EXPIRED: (amount) => ({
      title: 'Sua oferta de crédito expirou',
      body: `A oferta de limite de ${amount} não está mais disponível.`,
    }),
    OFFER_RECEIVED: (amount) => ({
      title: 'Você tem uma nova oferta de crédito',
      body: `Um limite de ${amount} está disponível para você. Toque para ver a oferta.`,
    }),
    OFFER_EXPIRING: (amount) => ({
      title: 'Sua oferta de crédito expira em breve',
      body: `A oferta de limite de ${amount} expira em breve. Toque para ver antes que acabe.`,
    }),
  },
  en: {
    CREDIT_DEPLOYED: (amount) => ({
      title: 'Your new credit limit is ready',
      body: `Your credit limit is now ${amount}.`,
    }),
    CREDIT_DEPLOYMENT_FAILED: (amount) => ({
      title: "We couldn't raise your credit limit",
      body: `We couldn't apply the ${amount} limit. Tap for details.`,
    }),
    OFFER_EXPIRED: (amount) => ({
      title: 'Your credit offer has expired',
      body: `The offer of a ${amount} limit is no longer available.`,
    }),
    OFFER_RECEIVED: (amount) => ({
      title: 'You have a new credit offer',
      body: `A ${amount} limit is available to you. Tap to see the offer.`,
    }),
    OFFER_EXPIRING: (amount) => ({
      title: 'Your credit offer expires soon',
      body: `The offer of a ${amount} limit expires soon. Tap to see it before it ends.`,
    }),
  },
};

/** A failure that is no failure to the user: a newer acceptance of theirs was applied instead. */
const SUPERSEDED_TEXTS: Record<Language, (amount: string) => { title: string; body: string }> = {
  'pt-BR': (amount) => ({
    title: 'Sua oferta mais recente foi aplicada',
    body: `Você aceitou uma oferta mais recente, e é ela que vale: o limite de ${amount} não foi aplicado.`,
  }),
  en: (amount) => ({
    title: 'Your newest offer is the one applied',
    body: `You accepted a newer offer, and that is the one that counts: the ${amount} limit was not applied.`,
  }),
};

/**
 * Title and body; Brazilian Portuguese unless the user prefers English. Amounts as the currency
 * writes them. A failed deployment superseded by a newer acceptance says so.
 */
export function notificationText(kind: NotificationKind, amount: Money, userLocale: string | null, failureCode?: string | null) {
  const language = languageOf(userLocale) ?? 'pt-BR';
  if (kind === 'CREDIT_DEPLOYMENT_FAILED' && failureCode === 'SUPERSEDED') return SUPERSEDED_TEXTS[language](formatMoney(amount));
  return TEXTS[language][kind](formatMoney(amount));
}

export const deploymentLink = (deploymentId: string) => `app://credit/deployments/${deploymentId}`;
export const offerLink = (offerId: string) => `app://credit/offers/${offerId}`;
