// The published JSON Schema (docs/events.schema.json) against the documented example and an
// expired-offer event; events produced by the service are checked in test/events.test.ts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { eventSchemaErrors } from '../../src/domain/event-schema.ts';

const documented = () => {
  const markdown = readFileSync(new URL('../../docs/events.md', import.meta.url), 'utf8');
  return JSON.parse(/```json\n([\s\S]*?)```/.exec(markdown)![1]!);
};

const expired = () => ({
  id: '3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b',
  type: 'credit.offer.expired',
  version: 1,
  occurredAt: '2026-11-29T22:04:10.512Z',
  userId: 'alice',
  sequence: 4,
  correlationId: 'offer-expiry-1',
  data: { offerId: '0b6e2b0e-0f4e-4a3c-8a43-1b2c3d4e5f60', limitCents: '70000', currency: 'BRL', interestRateBps: 250 },
});

describe('the events JSON Schema', () => {
  it('accepts the example in docs/events.md and an expired offer', () => {
    expect(eventSchemaErrors(documented())).toBeNull();
    expect(eventSchemaErrors(expired())).toBeNull();
  });

  it('refuses an expired offer with a limit change field, or an unknown top-level field', () => {
    const withLimit: any = expired();
    withLimit.data.newLimitCents = '1';
    const withExtra: any = { ...expired(), source: 'test' };
    const asLimitChange: any = { ...expired(), type: 'credit.limit.changed' };
    for (const event of [withLimit, withExtra, asLimitChange]) expect(eventSchemaErrors(event)).not.toBeNull();
  });
});
