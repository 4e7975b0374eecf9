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

/** `date`: the day a limit change takes effect, as the language writes it (limit-change notices only). */
type Texts = Record<NotificationKind, (amount: string, date: string) => { title: string; body: string }>;

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
    LIMIT_DECREASE_SCHEDULED: (amount, date) => ({
      title: 'Seu limite de crédito vai mudar',
      body: `Seu limite será reduzido para ${amount} em ${date}. Toque para ver os detalhes.`,
    }),
    LIMIT_DECREASED: (amount) => ({
      title: 'Seu limite de crédito foi reduzido',
      body: `Seu limite de crédito agora é de ${amount}.`,
    }),
    LIMIT_CHANGE_CANCELLED: (amount) => ({
      title: 'A mudança do seu limite foi cancelada',
      body: `A redução do seu limite para ${amount} não vai mais acontecer.`,
    }),
    TEMPORARY_LIMIT_ENDING: (amount, date) => ({
      title: 'Seu limite temporário termina em breve',
      body: `Em ${date} seu limite volta a ser de ${amount}.`,
    }),
    TEMPORARY_LIMIT_ENDED: (amount) => ({
      title: 'Seu limite temporário terminou',
      body: `Seu limite de crédito voltou a ser de ${amount}.`,
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
    LIMIT_DECREASE_SCHEDULED: (amount, date) => ({
      title: 'Your credit limit is changing',
      body: `Your limit will be lowered to ${amount} on ${date}. Tap for details.`,
    }),
    LIMIT_DECREASED: (amount) => ({
      title: 'Your credit limit was lowered',
      body: `Your credit limit is now ${amount}.`,
    }),
    LIMIT_CHANGE_CANCELLED: (amount) => ({
      title: 'Your limit change was cancelled',
      body: `The lowering of your limit to ${amount} will not happen.`,
    }),
    TEMPORARY_LIMIT_ENDING: (amount, date) => ({
      title: 'Your temporary limit ends soon',
      body: `On ${date} your limit returns to ${amount}.`,
    }),
    TEMPORARY_LIMIT_ENDED: (amount) => ({
      title: 'Your temporary limit has ended',
      body: `Your credit limit is back to ${amount}.`,
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
export function notificationText(kind: NotificationKind, amount: Money, userLocale: string | null, failureCode?: string | null, date?: Date | null) {
  const language = languageOf(userLocale) ?? 'pt-BR';
  if (kind === 'CREDIT_DEPLOYMENT_FAILED' && failureCode === 'SUPERSEDED') return SUPERSEDED_TEXTS[language](formatMoney(amount));
  return TEXTS[language][kind](formatMoney(amount), date ? formatDay(date, language) : '');
}

/** A day as the language writes it (06/01/2027, January 6, 2027), in Brazil's time zone, where the service's users are. */
function formatDay(date: Date, language: Language): string {
  return new Intl.DateTimeFormat(language, { dateStyle: language === 'en' ? 'long' : 'short', timeZone: 'America/Sao_Paulo' }).format(date);
}

export const deploymentLink = (deploymentId: string) => `app://credit/deployments/${deploymentId}`;
export const offerLink = (offerId: string) => `app://credit/offers/${offerId}`;
export const limitChangeLink = (changeId: string) => `app://credit/limit-changes/${changeId}`;
