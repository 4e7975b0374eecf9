// Users: created by their first valid token (or an offer issued to them); their language
// preference comes from the token's `locale` claim.
import type { Viewer } from './viewer.ts';
import { prisma } from '../platform/db.ts';
import { languageOf } from './notification-content.ts';

/**
 * Stores the language of the token's `locale` claim on the user (creating the user when new), so
 * that notifications written later by the workers, with no token at hand, use it. One statement,
 * which writes only when the preference changes.
 */
export async function rememberLocale(viewer: Viewer): Promise<void> {
  const locale = languageOf(viewer.locale);
  if (!locale) return;
  await prisma.$executeRaw`
    INSERT INTO users (id, locale) VALUES (${viewer.userId}, ${locale})
    ON CONFLICT (id) DO UPDATE SET locale = EXCLUDED.locale
     WHERE users.locale IS DISTINCT FROM EXCLUDED.locale`;
}
