// Row ids: UUID version 7 (RFC 9562), whose first 48 bits are the time in milliseconds, so that
// rows inserted together sit together in their primary key: inserts fill its right edge instead
// of splitting pages all over it (a random id's, at a credit book's size, a random page read per
// insert). The SQL side is the uuid_v7() function of migration 20261207230000.
import { v7 } from 'uuid';

/** A new row's id, ordered by time. */
export const newRowId = (): string => v7();
