// A token's signature is checked once and remembered: what is remembered must never let through a
// token that a fresh check would refuse.
import { describe, expect, it } from 'vitest';
import { createAuthenticator, tokenSigner } from '../../src/api/auth.ts';

const SECRET = 'a-test-secret-of-some-length-0123456789';
const settings = { jwtSecret: SECRET, maxLifetimeSeconds: 3600, clockToleranceSeconds: 0 };
const bearer = (token: string) => `Bearer ${token}`;

describe('remembered tokens', () => {
  it('answers the same viewer again, and refuses the token once it has expired', async () => {
    const authenticate = createAuthenticator(settings);
    const token = await tokenSigner(SECRET)('user-1', ['customer'], {}, '2s');
    const first = await authenticate(bearer(token));
    expect(first.viewer).toEqual({ userId: 'user-1', roles: ['customer'] });
    expect(await authenticate(bearer(token))).toEqual(first);

    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(await authenticate(bearer(token))).toEqual({ viewer: null, reason: 'invalid or expired token' });
  });

  it('remembers nothing of a token it refused, nor of one signed with another key', async () => {
    const authenticate = createAuthenticator(settings);
    const good = await tokenSigner(SECRET)('user-2', ['credit-engine']);
    expect((await authenticate(bearer(good))).viewer?.roles).toEqual(['credit-engine']);
    const forged = await tokenSigner('another-secret-of-some-length-0123456')('user-2', ['credit-engine']);
    expect(await authenticate(bearer(forged))).toEqual({ viewer: null, reason: 'invalid or expired token' });
    // The same forged token, again: still checked, still refused.
    expect(await authenticate(bearer(forged))).toEqual({ viewer: null, reason: 'invalid or expired token' });
  });

});
