// 7. Refresh edge cases through the official client.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, b64url, decodeJwt, expectError, newDeviceId, serverFixture } from './harness.mjs';

/** A session object whose refresh token is replaced by `refreshToken` (nakama-js sends it as is). */
function withRefreshToken(session, refreshToken) {
  const s = Session.restore(session.token, session.refresh_token);
  s.refresh_token = refreshToken;
  return s;
}

describe('refresh edge cases', () => {
  const fx = serverFixture();

  test('a garbage refresh token is 401, code 16', async () => {
    const client = fx.server.client();
    const s = await client.authenticateDevice(newDeviceId(), true);
    for (const garbage of ['garbage', 'a.b.c', `${s.refresh_token}x`, s.refresh_token.split('.').slice(0, 2).join('.') + '.']) {
      await expectError(client.sessionRefresh(withRefreshToken(s, garbage)), 401, 16, 'Refresh token invalid or expired.');
    }
  });

  test('a session token given as the refresh token is 401, code 16', async () => {
    const client = fx.server.client();
    const s = await client.authenticateDevice(newDeviceId(), true);
    await expectError(client.sessionRefresh(withRefreshToken(s, s.token)), 401, 16, 'Refresh token invalid or expired.');
  });

  test('a refresh token with forged claims is 401, code 16', async () => {
    const client = fx.server.client();
    const victim = await client.authenticateDevice(newDeviceId(), true);
    const attacker = await client.authenticateDevice(newDeviceId(), true);
    // The attacker's signature over the victim's uid.
    const { header, payload } = decodeJwt(attacker.refresh_token);
    const forged = [b64url(header), b64url({ ...payload, uid: victim.user_id }), attacker.refresh_token.split('.')[2]].join('.');
    await expectError(client.sessionRefresh(withRefreshToken(attacker, forged)), 401, 16, 'Refresh token invalid or expired.');
  });

  test('the refresh token of a logged-out session is 401, code 16', async () => {
    const client = fx.server.client();
    const s = await client.authenticateDevice(newDeviceId(), true);
    const refreshToken = s.refresh_token;
    await client.sessionLogout(s, s.token, s.refresh_token);
    await expectError(client.sessionRefresh(withRefreshToken(s, refreshToken)), 401, 16, 'Refresh token invalid or expired.');
  });

  test('refresh tokens minted before a logout are refused too', async () => {
    const client = fx.server.client();
    const s = await client.authenticateDevice(newDeviceId(), true);
    const original = s.refresh_token;
    await client.sessionRefresh(s, { step: '1' });
    await client.sessionLogout(s, s.token, s.refresh_token);
    await expectError(client.sessionRefresh(withRefreshToken(s, original)), 401, 16, 'Refresh token invalid or expired.');
  });

  test('an empty refresh token is 400, code 3', async () => {
    const res = await fx.server.raw('POST', '/v2/account/session/refresh', { basic: 'defaultkey', body: { token: '' } });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json?.code, 3, res.text);
    assert.equal(res.json?.message, 'Refresh token is required.');
  });

  test('refresh with a wrong server key is 401, code 16', async () => {
    const s = await fx.server.client().authenticateDevice(newDeviceId(), true);
    await expectError(fx.server.client('wrongkey').sessionRefresh(s), 401, 16, 'Server key invalid');
  });
});
