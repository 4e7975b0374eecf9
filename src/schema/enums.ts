import {
  CreditDeploymentStatus,
  CreditOfferStatus,
  DeliveryStatus,
  DevicePlatform,
  NotificationChannel,
  NotificationKind,
  NotificationStatus,
} from '../db.ts';
import { builder } from './builder.ts';

export const CreditOfferStatusEnum = builder.enumType('CreditOfferStatus', {
  values: {
    PENDING: { value: CreditOfferStatus.PENDING },
    ACCEPTED: { value: CreditOfferStatus.ACCEPTED, description: 'Accepted by the user; its deployment is under way.' },
    DEPLOYED: { value: CreditOfferStatus.DEPLOYED },
    FAILED: { value: CreditOfferStatus.FAILED },
    EXPIRED: { value: CreditOfferStatus.EXPIRED },
    DECLINED: { value: CreditOfferStatus.DECLINED },
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

export const NotificationKindEnum = builder.enumType('NotificationKind', {
  values: {
    CREDIT_DEPLOYED: { value: NotificationKind.CREDIT_DEPLOYED },
    CREDIT_DEPLOYMENT_FAILED: { value: NotificationKind.CREDIT_DEPLOYMENT_FAILED },
    OFFER_EXPIRED: { value: NotificationKind.OFFER_EXPIRED },
  } as const,
});

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

export const NotificationChannelEnum = builder.enumType('NotificationChannel', {
  values: {
    IN_APP: { value: NotificationChannel.IN_APP },
    PUSH: { value: NotificationChannel.PUSH },
  } as const,
});

export const DeliveryStatusEnum = builder.enumType('DeliveryStatus', {
  values: {
    SENT: { value: DeliveryStatus.SENT },
    FAILED: { value: DeliveryStatus.FAILED },
    SKIPPED: { value: DeliveryStatus.SKIPPED },
  } as const,
});

export const DevicePlatformEnum = builder.enumType('DevicePlatform', {
  values: {
    IOS: { value: DevicePlatform.IOS },
    ANDROID: { value: DevicePlatform.ANDROID },
  } as const,
});
