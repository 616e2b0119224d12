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

  test('concurrent refreshes of one session all succeed', async () => {
    // Nakama's refresh is stateless: any number of refreshes of a valid refresh token succeed. Games hit
    // this without trying: with autoRefreshSession (the default) every call made while the session is
    // near expiry refreshes on its own, so a burst of parallel calls is a burst of parallel refreshes.
    const client = fx.server.client();
    const n = 50;
    const failures = [];
    // Several rounds: the later ones run over warm keep-alive connections, so the requests really
    // arrive together.
    for (let round = 0; round < 3; round++) {
      const base = await client.authenticateDevice(newDeviceId(), true, undefined, { v: String(round) });
      const results = await Promise.allSettled(
        Array.from({ length: n }, () => client.sessionRefresh(Session.restore(base.token, base.refresh_token))));
      const ok = [];
      for (const r of results) {
        if (r.status === 'fulfilled') {
          ok.push(r.value);
          continue;
        }
        const e = r.reason;
        failures.push(`round ${round}: ${typeof e?.text === 'function' ? `${e.status} ${await e.text()}` : String(e)}`);
      }
      for (const s of ok) {
        assert.equal(s.user_id, base.user_id);
        assert.deepEqual(s.vars, { v: String(round) });
      }
      // The new token pairs work.
      if (ok.length > 0) {
        await Promise.all(ok.slice(0, 5).map((s) => client.getAccount(s)));
        await client.sessionRefresh(ok[ok.length - 1]);
      }
    }
    assert.equal(failures.length, 0,
      `${failures.length} of ${3 * n} concurrent refreshes failed, e.g. ${failures.slice(0, 3).join('; ')}`);
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
