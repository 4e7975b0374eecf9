// What a customer reads about a failed deployment: rendered from its failure code in their
// language, never from an error. Driver, ORM or SQL words cannot reach a customer from here.
import type { DeploymentFailureCode } from '../platform/db.ts';
import { formatMoney, type Money } from './money.ts';
import { languageOf, type Language } from './notification-content.ts';

const TEXTS: Record<Language, Record<DeploymentFailureCode, (limit: string) => string>> = {
  'pt-BR': {
    LIMIT_BELOW_USAGE: (limit) => `O limite oferecido de ${limit} é menor que o crédito que você já está usando.`,
    CURRENCY_MISMATCH: (limit) => `O limite de ${limit} está em uma moeda diferente da sua conta de crédito.`,
    OFFER_NOT_VALID: (limit) => `A oferta de limite de ${limit} não era mais válida quando fomos aplicá-la.`,
    SUPERSEDED: (limit) => `Você aceitou uma oferta mais recente; a oferta de ${limit} não foi aplicada.`,
    RETRIES_EXHAUSTED: (limit) => `Não conseguimos aplicar o limite de ${limit} por uma instabilidade em nossos sistemas. Nada foi alterado.`,
  },
  en: {
    LIMIT_BELOW_USAGE: (limit) => `The offered limit of ${limit} is below the credit you already have in use.`,
    CURRENCY_MISMATCH: (limit) => `The ${limit} limit is in a different currency than your credit account.`,
    OFFER_NOT_VALID: (limit) => `The offer of a ${limit} limit was no longer valid when we came to apply it.`,
    SUPERSEDED: (limit) => `You accepted a newer offer; the ${limit} offer was not applied.`,
    RETRIES_EXHAUSTED: (limit) => `We couldn't apply the ${limit} limit because of trouble on our side. Nothing was changed.`,
  },
};

const UNKNOWN: Record<Language, string> = {
  'pt-BR': 'Não foi possível aplicar este limite. Nada foi alterado.',
  en: "We couldn't apply this limit. Nothing was changed.",
};

/** The customer's text for a failure code (a generic one for rows without a code); pt-BR unless they prefer English. */
export function failureText(code: DeploymentFailureCode | null, limit: Money, locale: string | null | undefined): string {
  const language = languageOf(locale) ?? 'pt-BR';
  const text = code ? TEXTS[language][code] : undefined;
  return text ? text(formatMoney(limit)) : UNKNOWN[language];
}

/**
 * The public part of an audit event's detail. Rows written before failure codes existed may
 * hold raw error text under `error` or `reason`: those keys are never shown.
 */
export function publicEventDetail(detail: unknown): unknown {
  if (!detail || typeof detail !== 'object' || Array.isArray(detail)) return detail ?? null;
  const { error: _error, reason: _reason, ...rest } = detail as Record<string, unknown>;
  return rest;
}
