// 8. nakama-js's automatic refresh against short-lived tokens. The two tests wait for expiry in parallel.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectError, newDeviceId, serverFixture, sleep, startServer } from './harness.mjs';

/** Sleeps until `margin` ms past the given exp (Unix seconds): the server treats a token as expired
 * from its exp second on. */
const sleepPast = (exp, margin = 500) => sleep(Math.max(0, exp * 1000 - Date.now()) + margin);

describe('automatic refresh', { concurrency: true }, () => {
  const fx = serverFixture({ args: ['--session.token_expiry_sec', '2', '--session.refresh_token_expiry_sec', '3600'] });

  test('an expired session token is refreshed by the client before the call', async () => {
    const client = fx.server.client(undefined, { autoRefresh: true });
    const manual = fx.server.client(); // same server, no automatic refresh
    const session = await client.authenticateDevice(newDeviceId(), true, undefined, { keep: 'me' });
    const oldToken = session.token;
    const oldExp = session.expires_at;
    const left = oldExp - Date.now() / 1000;
    assert.ok(left > 0 && left <= 2.01, `token_expiry_sec 2 is applied (exp in ${left} s)`);

    await sleepPast(oldExp);
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

  test('once the refresh token has expired too, the client gets 401 and must authenticate again', async (t) => {
    const server = await startServer({
      t, args: ['--session.token_expiry_sec', '1', '--session.refresh_token_expiry_sec', '2'],
    });
    const client = server.client(undefined, { autoRefresh: true });
    const id = newDeviceId();
    const session = await client.authenticateDevice(id, true);
    const left = session.refresh_expires_at - Date.now() / 1000;
    assert.ok(left > 0 && left <= 2.01, `refresh_token_expiry_sec 2 is applied (exp in ${left} s)`);

    await sleepPast(session.refresh_expires_at);
    await expectError(client.getAccount(session), 401, 16, 'Refresh token invalid or expired.');

    const again = await client.authenticateDevice(id, false);
    assert.equal(again.user_id, session.user_id);
    assert.equal((await client.getAccount(again)).user.id, session.user_id);
  });
});
