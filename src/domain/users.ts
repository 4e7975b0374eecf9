// Users: created by their first valid token (or an offer issued to them); their language
// preference comes from the token's `locale` claim. One rule for it, whoever writes the user.
import { prisma } from '../platform/db.ts';
import { languageOf } from './notification-content.ts';
import type { Viewer } from './viewer.ts';

/**
 * The viewer's user row, created when new; the language of the token's `locale` claim, when it
 * names one we write in, is stored so that notifications written later by the workers, with no
 * token at hand, use it. One statement, which writes only when something changes.
 */
export async function ensureUser(viewer: Viewer): Promise<void> {
  const locale = languageOf(viewer.locale);
  await prisma.$executeRaw`
    INSERT INTO users (id, locale) VALUES (${viewer.userId}, ${locale})
    ON CONFLICT (id) DO UPDATE SET locale = EXCLUDED.locale
     WHERE EXCLUDED.locale IS NOT NULL AND users.locale IS DISTINCT FROM EXCLUDED.locale`;
}

/**
 * Whether the viewer's user row needs ensureUser: it is missing, or the token names a language
 * other than the stored one. Otherwise a request only reads (no row lock, no write per call).
 */
export function userNeedsWrite(stored: { locale: string | null } | null, viewer: Viewer): boolean {
  if (!stored) return true;
  const locale = languageOf(viewer.locale);
  return locale !== null && locale !== stored.locale;
}
