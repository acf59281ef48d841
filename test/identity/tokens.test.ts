import { expect } from 'chai';
import { createTokenService } from '../../services/identity/tokens.ts';

describe('identity: access token verification cache', () => {
  const tokens = createTokenService({ secret: 's'.repeat(40), issuer: 'iss', audience: 'aud', accessTokenTtlSeconds: 60, refreshTokenTtlSeconds: 600 });
  const claims = { userId: crypto.randomUUID(), sessionId: crypto.randomUUID(), role: 'user' as const };

  it('answers a repeated token from the cache only until it expires', () => {
    const token = tokens.signAccess(claims);
    expect(tokens.verifyAccess(token)).to.include(claims);
    expect(tokens.verifyAccess(token)).to.include(claims);
    const realNow = Date.now;
    Date.now = () => realNow() + 61_000;
    try {
      expect(() => tokens.verifyAccess(token)).to.throw().with.property('code', 'token_expired');
    } finally {
      Date.now = realNow;
    }
  });

  it('never lets a token that differs in any byte hit the cache', () => {
    const token = tokens.signAccess(claims);
    tokens.verifyAccess(token);
    const flipped = token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1);
    expect(() => tokens.verifyAccess(flipped)).to.throw().with.property('code', 'invalid_token');
  });
});
