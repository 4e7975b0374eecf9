// The published JSON Schema of the events (docs/events.schema.json), compiled once: what the
// tests check every produced event against, and what the example consumer checks on receipt.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import eventSchema from '../../docs/events.schema.json' with { type: 'json' };
import type { CreditEvent } from './downstream-events.ts';

// ajv-formats is CommonJS with `exports.default`: under Node's ESM the default import is the module.
type AddFormats = typeof addFormatsModule.default;
const addFormats: AddFormats = (addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats);

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv, ['uuid', 'date-time']);
const validate = ajv.compile<CreditEvent>(eventSchema);

/** Null when the event is valid, else what is wrong with it. */
export function eventSchemaErrors(event: unknown): string | null {
  if (validate(event)) return null;
  return ajv.errorsText(validate.errors, { dataVar: 'event' });
}
