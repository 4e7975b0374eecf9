import { CreditDeploymentStatus, CreditOfferStatus } from '../db.ts';
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
