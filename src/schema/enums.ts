import {
  CreditDeploymentStatus,
  CreditOfferStatus,
  DeliveryStatus,
  DevicePlatform,
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

export const DeliveryStatusEnum = builder.enumType(DeliveryStatus, { name: 'DeliveryStatus' });

export const DevicePlatformEnum = builder.enumType(DevicePlatform, { name: 'DevicePlatform' });
