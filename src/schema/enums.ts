import {
  CreditDeploymentStatus,
  CreditOfferStatus,
  DeliveryStatus,
  DeploymentFailureCode,
  DevicePlatform,
  NotificationCategory,
  NotificationChannel,
  NotificationKind,
  NotificationStatus,
} from '../platform/db.ts';
import { builder } from './builder.ts';

export const CreditOfferStatusEnum = builder.enumType('CreditOfferStatus', {
  values: {
    PENDING: { value: CreditOfferStatus.PENDING },
    ACCEPTED: { value: CreditOfferStatus.ACCEPTED, description: 'Accepted by the user; its deployment is under way.' },
    DEPLOYED: { value: CreditOfferStatus.DEPLOYED },
    FAILED: { value: CreditOfferStatus.FAILED },
    EXPIRED: { value: CreditOfferStatus.EXPIRED },
    DECLINED: { value: CreditOfferStatus.DECLINED },
    SUPERSEDED: {
      value: CreditOfferStatus.SUPERSEDED,
      description: 'The user accepted another of their offers: this one can no longer be accepted.',
    },
    WITHDRAWN: {
      value: CreditOfferStatus.WITHDRAWN,
      description: 'The credit engine withdrew the offer before it was accepted: it can no longer be accepted.',
    },
  } as const,
});

export const CreditDeploymentStatusEnum = builder.enumType('CreditDeploymentStatus', {
  values: {
    QUEUED: { value: CreditDeploymentStatus.QUEUED },
    PROCESSING: { value: CreditDeploymentStatus.PROCESSING },
    RETRYING: {
      value: CreditDeploymentStatus.RETRYING,
      description: 'An attempt failed transiently; another is scheduled with backoff.',
    },
    DEPLOYED: { value: CreditDeploymentStatus.DEPLOYED },
    FAILED: { value: CreditDeploymentStatus.FAILED },
  } as const,
});

export const DeploymentFailureCodeEnum = builder.enumType('DeploymentFailureCode', {
  description: 'Why a deployment ended FAILED: stable codes, so an app can show its own words.',
  values: {
    LIMIT_BELOW_USAGE: {
      value: DeploymentFailureCode.LIMIT_BELOW_USAGE,
      description: 'The offered limit is below the credit the user has in use.',
    },
    CURRENCY_MISMATCH: {
      value: DeploymentFailureCode.CURRENCY_MISMATCH,
      description: "The offer is in another currency than the user's credit profile.",
    },
    OFFER_NOT_VALID: {
      value: DeploymentFailureCode.OFFER_NOT_VALID,
      description: 'The offer was no longer valid when the worker came to apply it.',
    },
    SUPERSEDED: {
      value: DeploymentFailureCode.SUPERSEDED,
      description: 'A later acceptance of the same user was applied first; this one changed nothing.',
    },
    RETRIES_EXHAUSTED: {
      value: DeploymentFailureCode.RETRIES_EXHAUSTED,
      description: 'Transient trouble (database, network) outlasted the retry horizon; nothing was applied.',
    },
  } as const,
});

export const NotificationKindEnum = builder.enumType(NotificationKind, { name: 'NotificationKind' });

export const NotificationStatusEnum = builder.enumType('NotificationStatus', {
  values: {
    PENDING: { value: NotificationStatus.PENDING, description: 'Created, not yet delivered on any channel.' },
    DELIVERED: {
      value: NotificationStatus.DELIVERED,
      description: 'Delivered to a live in-app subscription or accepted by the push provider.',
    },
    ACKNOWLEDGED: { value: NotificationStatus.ACKNOWLEDGED, description: 'The app confirmed that the user saw it.' },
    FAILED: { value: NotificationStatus.FAILED, description: 'No channel could deliver it.' },
  } as const,
});

export const NotificationChannelEnum = builder.enumType(NotificationChannel, { name: 'NotificationChannel' });

export const DeliveryStatusEnum = builder.enumType('DeliveryStatus', {
  values: {
    SENT: { value: DeliveryStatus.SENT },
    FAILED: { value: DeliveryStatus.FAILED },
    SKIPPED: { value: DeliveryStatus.SKIPPED },
    DEFERRED: {
      value: DeliveryStatus.DEFERRED,
      description: "A push held for the user's quiet hours: it goes at scheduledFor.",
    },
  } as const,
});

export const NotificationCategoryEnum = builder.enumType('NotificationCategory', {
  values: {
    OFFERS: { value: NotificationCategory.OFFERS, description: 'Offers received, expiring, expired: may be turned off per channel.' },
    CREDIT_UPDATES: {
      value: NotificationCategory.CREDIT_UPDATES,
      description: "The results of the user's own actions: required in-app; push may be turned off.",
    },
    ACCOUNT_NOTICES: { value: NotificationCategory.ACCOUNT_NOTICES, description: 'Notices the law requires: required on every channel.' },
  } as const,
});

export const DevicePlatformEnum = builder.enumType(DevicePlatform, { name: 'DevicePlatform' });
