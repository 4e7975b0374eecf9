// @credit-deployment/client: the reference client of the credit deployment API (docs/clients.md).
export { CreditClient, type CreditClientOptions } from './client.ts';
export { followDeployment, watchNotifications, type DeploymentUpdate, type Followed, type NotificationItem } from './streams.ts';
export { ApiRequestError, RETRYABLE_CODES, type ApiError } from './errors.ts';
export { CREDIT_DEPLOYMENT_STATUSES, NOTIFICATION_KINDS, enumValue, isUnknown, type EnumValue } from './enums.ts';
export { hashOf, type PersistedDocument } from './persisted.ts';
export { DEFAULT_RETRY, type RetrySettings } from './backoff.ts';
