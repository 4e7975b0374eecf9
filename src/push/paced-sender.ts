// The PushSender at the provider's pace: every send takes a token from the bucket shared by all
// worker processes first. The provider's "over quota" is not a failed delivery: a project-level
// answer pauses the whole bucket (for the Retry-After the provider gave, when one reached us)
// and the send waits its turn again; a device's own quota pauses only sends to that device.
import type { PushMessage, PushResult, PushSender } from '../domain/ports.ts';
import { counter } from '../platform/metrics.ts';
import type { PushBucket } from './push-bucket.ts';

export interface PacedSenderSettings {
  /** The bucket's pause on a project-level quota answer that came without a Retry-After. */
  quotaPauseMs: number;
  /** A device's first pause on its own quota answer (doubled on each further one). */
  devicePauseMs: number;
  /** Quota answers one send lives through before it is a transient failure (the job's retries take over). */
  maxQuotaAnswers: number;
}

export const DEFAULT_PACING: PacedSenderSettings = { quotaPauseMs: 10_000, devicePauseMs: 2_000, maxQuotaAnswers: 20 };

/** Where a quota answer's Retry-After is found, when the transport exposes it (ms; null when none). */
export type RetryAfter = () => number | null;

const quotaAnswers = counter({
  name: 'credit_push_quota_answers_total',
  help: "The provider's over-quota answers (HTTP 429), by scope: project (the whole bucket slows) or device",
  labelNames: ['scope'],
});

/**
 * The scope of a transient failure that is an over-quota answer, from firebase-admin's error
 * code; null when it is another failure. FCM says "device" in the message of a device's quota.
 */
export function quotaScope(error: string): 'project' | 'device' | null {
  if (/^messaging\/device-message-rate-exceeded/.test(error)) return 'device';
  if (!/^messaging\/(message-rate-exceeded|quota-exceeded)/.test(error)) return null;
  return /device/i.test(error) && !/project/i.test(error) ? 'device' : 'project';
}

export function pacedPushSender(
  inner: PushSender,
  bucket: PushBucket,
  settings: PacedSenderSettings = DEFAULT_PACING,
  retryAfter: RetryAfter = () => null,
): PushSender {
  if (inner.disabledReason) return inner;
  return {
    disabledReason: null,
    async send(token: string, message: PushMessage): Promise<PushResult> {
      let devicePauseMs = settings.devicePauseMs;
      for (let answers = 0; ; answers += 1) {
        try {
          await bucket.acquire(token);
        } catch (error) {
          // No pace to keep without Redis: the send waits for the job's retry rather than going out unpaced.
          return { ok: false, failure: 'transient', error: `push pacing unavailable: ${error instanceof Error ? error.message : String(error)}` };
        }
        const result = await inner.send(token, message);
        if (result.ok || result.failure !== 'transient') return result;
        const scope = quotaScope(result.error);
        if (!scope || answers >= settings.maxQuotaAnswers) return result;
        quotaAnswers.inc({ scope });
        if (scope === 'project') {
          await bucket.slowDown(retryAfter() ?? settings.quotaPauseMs);
        } else {
          await bucket.pauseDevice(token, devicePauseMs);
          devicePauseMs *= 2;
        }
      }
    },
  };
}
