// Prints a development token: npm run token -- --user <id> [--role credit-engine] [--locale en]
import { parseArgs } from 'node:util';
import { tokenSigner } from '../src/api/auth.ts';
import type { Role } from '../src/domain/viewer.ts';
import { loadConfig } from '../src/platform/config.ts';

const signToken = tokenSigner(loadConfig().JWT_SECRET);

const { values } = parseArgs({
  options: {
    user: { type: 'string', default: 'dev-user' },
    role: { type: 'string', multiple: true, default: ['customer'] },
    locale: { type: 'string' },
    expires: { type: 'string', default: '1h' }, // the longest the service accepts (JWT_MAX_LIFETIME_S)
  },
});
const roles = values.role as Role[];
const token = await signToken(values.user!, roles, values.locale ? { locale: values.locale } : {}, values.expires);
console.log(token);
