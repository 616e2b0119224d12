// 8. nakama-js's automatic refresh against short-lived session tokens.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectError, newDeviceId, serverFixture, sleep } from './harness.mjs';

describe('automatic refresh', () => {
  const fx = serverFixture({ args: ['--session.token_expiry_sec', '2', '--session.refresh_token_expiry_sec', '3600'] });

  test('an expired session token is refreshed by the client before the call', async () => {
    const client = fx.server.client(undefined, { autoRefresh: true });
    const manual = fx.server.client(); // same server, no automatic refresh
    const session = await client.authenticateDevice(newDeviceId(), true, undefined, { keep: 'me' });
    const oldToken = session.token;
    const oldExp = session.expires_at;
    assert.ok(oldExp - Date.now() / 1000 <= 2.01, `token_expiry_sec 2 is applied (exp in ${oldExp - Date.now() / 1000} s)`);

    // The server treats a token as expired from its exp second on; wait a little past it.
    await sleep(Math.max(0, oldExp * 1000 - Date.now()) + 500);
    await expectError(manual.getAccount(session), 401, 16, 'Auth token invalid');

    const account = await client.getAccount(session);
    assert.equal(account.user.id, session.user_id);
    assert.notEqual(session.token, oldToken, 'nakama-js refreshed the session token');
    assert.ok(session.expires_at > oldExp, 'the new token expires later');
    assert.deepEqual(session.vars, { keep: 'me' }, 'vars survive the automatic refresh');

    // The old, expired token is still refused.
    const res = await fx.server.raw('GET', '/v2/account', { bearer: oldToken });
    assert.equal(res.status, 401, res.text);
    assert.equal(res.json?.code, 16);
  });
});
