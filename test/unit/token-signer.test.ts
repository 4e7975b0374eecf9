// The development signer's tokens (demo, tests, bench) live exactly the lifetime asked for, even
// when the clock crosses a second while the token is made: a one-hour token is the longest the
// service accepts, and one second more is refused ('token lives longer than allowed').
import { decodeJwt } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuthenticator, tokenSigner } from '../../src/api/auth.ts';

const SECRET = 'a-test-secret-of-some-length-0123456789';
const RealDate = globalThis.Date;

/** A clock 300 ms before the next second that moves 600 ms at every reading: each reading may cross a second. */
function installTickingClock() {
  let now = Math.floor(RealDate.now() / 1000) * 1000 - 300;
  const read = () => (now += 600) - 600;
  class TickingDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(read());
      else super(...(args as [number]));
    }
    static override now() {
      return read();
    }
  }
  globalThis.Date = TickingDate as DateConstructor;
}

afterEach(() => {
  globalThis.Date = RealDate;
});

describe('development tokens', () => {
  it('a one-hour token signed while the clock crosses a second lives one hour and is accepted', async () => {
    installTickingClock();
    const token = await tokenSigner(SECRET)('bench-credit-engine', ['credit-engine']);
    globalThis.Date = RealDate;
    const claims = decodeJwt(token);
    expect(claims.exp! - claims.iat!).toBe(3600);
    const authenticate = createAuthenticator({ jwtSecret: SECRET, maxLifetimeSeconds: 3600, clockToleranceSeconds: 5 });
    expect((await authenticate(`Bearer ${token}`)).viewer).toEqual({ userId: 'bench-credit-engine', roles: ['credit-engine'] });
  });

  it('takes lifetimes as the token script writes them', async () => {
    for (const [lifetime, seconds] of [['90s', 90], ['15m', 900], ['1h', 3600], ['1d', 86_400], [120, 120]] as const) {
      const claims = decodeJwt(await tokenSigner(SECRET)('u', ['customer'], {}, lifetime));
      expect(claims.exp! - claims.iat!).toBe(seconds);
    }
    expect(() => tokenSigner(SECRET)('u', ['customer'], {}, 'forever')).toThrow(/token lifetime "forever"/);
  });
});
