// 4. Session variables and refresh through the official client.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, expectError, newDeviceId, serverFixture } from './harness.mjs';

describe('session variables and refresh', () => {
  const fx = serverFixture();

  test('vars given at authentication appear in session.vars', async () => {
    const vars = { a: '1', b: 'two', 'with space': 'a b' };
    const session = await fx.server.client().authenticateDevice(newDeviceId(), true, undefined, vars);
    assert.deepEqual(session.vars, vars);
    // nakama-js decodes the payload with atob (Latin-1), so check non-ASCII values on the JWT itself.
    const unicode = { greeting: 'héllo ✓ 世界' };
    const u = await fx.server.client().authenticateDevice(newDeviceId(), true, undefined, unicode);
    assert.deepEqual(decodeJwt(u.token).payload.vrs, unicode);
  });

  test('refresh with vars replaces them; refresh without vars keeps them', async () => {
    const client = fx.server.client();
    const session = await client.authenticateDevice(newDeviceId(), true, undefined, { a: '1', b: '2' });
    const userId = session.user_id;
    const username = session.username;
    const tid = decodeJwt(session.token).payload.tid;
    const firstToken = session.token;
    const firstRefresh = session.refresh_token;

    const refreshed = await client.sessionRefresh(session, { k: 'new' });
    assert.equal(refreshed, session, 'nakama-js updates the session in place');
    assert.deepEqual(session.vars, { k: 'new' }, 'non-empty vars replace the old set wholesale');
    assert.equal(session.user_id, userId);
    assert.equal(session.username, username);
    assert.notEqual(session.token, firstToken, 'a new session token');
    assert.notEqual(session.refresh_token, firstRefresh, 'a new refresh token');
    assert.equal(decodeJwt(session.token).payload.tid, tid, 'refresh keeps the session id (tid)');
    assert.equal(decodeJwt(session.refresh_token).payload.tid, tid);
    assert.deepEqual(decodeJwt(session.refresh_token).payload.vrs, { k: 'new' }, 'refresh token carries the new vars');

    // The refreshed tokens are usable.
    const account = await client.getAccount(session);
    assert.equal(account.user.id, userId);

    // No vars (nakama-js sends {}): the current ones are kept; the new refresh token works.
    await client.sessionRefresh(session);
    assert.deepEqual(session.vars, { k: 'new' });
    assert.equal((await client.getAccount(session)).user.id, userId);

    // And once more, from the refresh token returned by the previous refresh.
    await client.sessionRefresh(session, { k: 'newer', z: '26' });
    assert.deepEqual(session.vars, { k: 'newer', z: '26' });
    assert.equal((await client.getAccount(session)).user.id, userId);
  });

  test('refresh adds vars to a session that had none', async () => {
    const client = fx.server.client();
    const session = await client.authenticateDevice(newDeviceId(), true);
    assert.equal(session.vars, undefined);
    await client.sessionRefresh(session, { late: 'yes' });
    assert.deepEqual(session.vars, { late: 'yes' });
    await client.sessionRefresh(session);
    assert.deepEqual(session.vars, { late: 'yes' });
  });

  test('vars too large for a token are refused with 400, code 3', async () => {
    const client = fx.server.client();
    const big = { blob: 'x'.repeat(8192) };
    await expectError(client.authenticateDevice(newDeviceId(), true, undefined, big), 400, 3);
    const session = await client.authenticateDevice(newDeviceId(), true, undefined, { small: '1' });
    await expectError(client.sessionRefresh(session, big), 400, 3);
    assert.deepEqual(session.vars, { small: '1' }, 'a failed refresh leaves the session as it was');
    assert.ok(await client.getAccount(session));
  });
});
