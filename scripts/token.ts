// Prints a development token: npm run token -- --user <id> [--role credit-engine] [--locale en]
import { parseArgs } from 'node:util';
import { signToken, type Role } from '../src/auth.ts';

const { values } = parseArgs({
  options: {
    user: { type: 'string', default: 'dev-user' },
    role: { type: 'string', multiple: true, default: ['customer'] },
    locale: { type: 'string' },
    expires: { type: 'string', default: '12h' },
  },
});
const roles = values.role as Role[];
const token = await signToken(values.user!, roles, values.locale ? { locale: values.locale } : {}, values.expires);
console.log(token);
