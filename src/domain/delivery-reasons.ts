// What a delivery says: a stable code is stored (DeliveryReason), and the words a customer reads
// are rendered from it in their language, like a deployment's failureReason. A provider's own
// text (FCM's error messages, a driver's words) never reaches a customer: it goes to the logs.
import type { DeliveryReason } from '../platform/db.ts';
import { languageOf, type Language } from './notification-content.ts';

const TEXTS: Record<Language, Record<DeliveryReason, string>> = {
  'pt-BR': {
    PUSH_NOT_CONFIGURED: 'As notificações push não estão disponíveis no momento.',
    NO_DEVICE: 'Nenhum aparelho seu está registrado para receber notificações push.',
    CHANNEL_DISABLED: 'Você desativou este tipo de notificação neste canal.',
    QUIET_HOURS: 'Guardada até o fim do seu horário de silêncio.',
    OFFER_NO_LONGER_OPEN: 'A oferta não está mais disponível, então o aviso não foi enviado.',
    DEVICE_TOKEN_INVALID: 'O aparelho não está mais registrado para notificações push e foi removido.',
    PROVIDER_REJECTED: 'O serviço de notificações push recusou a mensagem.',
    PROVIDER_UNAVAILABLE: 'O serviço de notificações push não estava disponível.',
    SEND_IN_DOUBT: 'Não reenviada: o aparelho provavelmente já a recebeu.',
    DELIVERY_ABANDONED: 'Não foi possível concluir o envio após várias tentativas.',
  },
  en: {
    PUSH_NOT_CONFIGURED: 'Push notifications are not available right now.',
    NO_DEVICE: 'None of your devices is registered for push notifications.',
    CHANNEL_DISABLED: 'You turned off this kind of notification on this channel.',
    QUIET_HOURS: 'Held until your quiet hours end.',
    OFFER_NO_LONGER_OPEN: 'The offer is no longer open, so the reminder was not sent.',
    DEVICE_TOKEN_INVALID: 'The device is no longer registered for push notifications and was removed.',
    PROVIDER_REJECTED: 'The push service refused the message.',
    PROVIDER_UNAVAILABLE: 'The push service was not available.',
    SEND_IN_DOUBT: 'Not sent again: the device most likely has it already.',
    DELIVERY_ABANDONED: 'Delivery could not be completed after repeated attempts.',
  },
};

const UNKNOWN: Record<Language, string> = {
  'pt-BR': 'Não foi possível entregar por este canal.',
  en: 'It could not be delivered on this channel.',
};

/** The public words of a delivery's reason in the reader's language (pt-BR unless they prefer English). */
export function deliveryReasonText(code: DeliveryReason | null, locale: string | null | undefined): string {
  const language = languageOf(locale) ?? 'pt-BR';
  return (code && TEXTS[language][code]) || UNKNOWN[language];
}

interface StoredDelivery {
  status: 'SENT' | 'FAILED' | 'SKIPPED' | 'DEFERRED';
  reasonCode: DeliveryReason | null;
}

/**
 * `NotificationDelivery.error`, with the meaning it always had: why a delivery did not happen
 * (FAILED or SKIPPED), now in public words; null when SENT or only DEFERRED.
 */
export function deliveryError(delivery: StoredDelivery, locale: string | null | undefined): string | null {
  return delivery.status === 'FAILED' || delivery.status === 'SKIPPED' ? deliveryReasonText(delivery.reasonCode, locale) : null;
}

/** `NotificationDelivery.reason`: why it was SKIPPED, DEFERRED or FAILED, in words. */
export function deliveryReason(delivery: StoredDelivery, locale: string | null | undefined): string | null {
  return delivery.status === 'SENT' ? null : deliveryReasonText(delivery.reasonCode, locale);
}
