// 6. Logout through the official client (and the empty-body logout-all through raw fetch).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, expectError, newDeviceId, serverFixture } from './harness.mjs';

/** A copy of a session, so refreshing one does not change the other. */
const copy = (s) => Session.restore(s.token, s.refresh_token);

describe('logout', () => {
  const fx = serverFixture();

  test('logging out a session ends it; other sessions of the user keep working', async () => {
    const client = fx.server.client();
    const id = newDeviceId();
    const s1 = await client.authenticateDevice(id, true);
    const s2 = await client.authenticateDevice(id, true);
    assert.equal(s2.user_id, s1.user_id);

    assert.equal(await client.sessionLogout(s1, s1.token, s1.refresh_token), true);

    await expectError(client.getAccount(s1), 401, 16, 'Auth token invalid');
    await expectError(client.sessionRefresh(copy(s1)), 401, 16, 'Refresh token invalid or expired.');

    // The second login is a separate session.
    assert.equal((await client.getAccount(s2)).user.id, s1.user_id);
    const s2r = copy(s2);
    await client.sessionRefresh(s2r);
    assert.equal((await client.getAccount(s2r)).user.id, s1.user_id);
  });

  test('logging out the session token alone also stops its refresh token', async () => {
    // Latchkey ends the whole session when either of its tokens is named (a documented difference
    // from Nakama, whose refresh token would live on and mint unusable session tokens).
    const client = fx.server.client();
    const s = await client.authenticateDevice(newDeviceId(), true);
    assert.equal(await client.sessionLogout(s, s.token, ''), true);
    await expectError(client.getAccount(s), 401, 16, 'Auth token invalid');
    await expectError(client.sessionRefresh(copy(s)), 401, 16, 'Refresh token invalid or expired.');
  });

  test('a session can log out another session of the same user', async () => {
    const client = fx.server.client();
    const id = newDeviceId();
    const s1 = await client.authenticateDevice(id, true);
    const s2 = await client.authenticateDevice(id, true);
    assert.equal(await client.sessionLogout(s2, s1.token, s1.refresh_token), true);
    await expectError(client.getAccount(s1), 401, 16, 'Auth token invalid');
    assert.ok(await client.getAccount(s2), 'the caller was not named, so it stays logged in');
  });

  test('a logged-out bearer cannot call logout again', async () => {
    const client = fx.server.client();
    const s = await client.authenticateDevice(newDeviceId(), true);
    await client.sessionLogout(s, s.token, s.refresh_token);
    await expectError(client.sessionLogout(s, s.token, s.refresh_token), 401, 16, 'Auth token invalid');
  });

  test('an empty logout body ends every session of the caller, and only of the caller', async () => {
    const client = fx.server.client();
    const id = newDeviceId();
    const s1 = await client.authenticateDevice(id, true);
    const s2 = await client.authenticateDevice(id, true);
    const s3 = await client.authenticateDevice(id, true);
    const other = await client.authenticateDevice(newDeviceId(), true);

    const res = await fx.server.raw('POST', '/v2/session/logout', { bearer: s2.token, body: {} });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, {});

    for (const [name, s] of Object.entries({ s1, s2, s3 })) {
      await expectError(client.getAccount(s), 401, 16, 'Auth token invalid');
      await expectError(client.sessionRefresh(copy(s)), 401, 16, 'Refresh token invalid or expired.')
        .catch((err) => { throw new Error(`${name}: ${err.message}`); });
    }
    assert.ok(await client.getAccount(other), 'another user is not affected');

    // Logging in again right away (same second) gives a working session.
    const again = await client.authenticateDevice(id, false);
    assert.equal(again.user_id, s1.user_id);
    assert.equal((await client.getAccount(again)).user.id, s1.user_id);
    await client.sessionRefresh(again);
    assert.equal((await client.getAccount(again)).user.id, s1.user_id);
  });

  test("naming another user's token in the body is 400, code 3, and revokes nothing", async () => {
    const client = fx.server.client();
    const mine = await client.authenticateDevice(newDeviceId(), true);
    const theirs = await client.authenticateDevice(newDeviceId(), true);

    await expectError(client.sessionLogout(mine, theirs.token, ''), 400, 3, 'Session token invalid.');
    await expectError(client.sessionLogout(mine, '', theirs.refresh_token), 400, 3, 'Refresh token invalid.');
    await expectError(client.sessionLogout(mine, theirs.token, theirs.refresh_token), 400, 3);

    assert.ok(await client.getAccount(theirs), 'their session still works');
    await client.sessionRefresh(copy(theirs));
    assert.ok(await client.getAccount(mine), 'mine too');
  });

  test('tokens of the wrong kind or garbage in the logout body are 400, code 3', async () => {
    const client = fx.server.client();
    const s = await client.authenticateDevice(newDeviceId(), true);
    await expectError(client.sessionLogout(s, s.refresh_token, ''), 400, 3, 'Session token invalid.');
    await expectError(client.sessionLogout(s, '', s.token), 400, 3, 'Refresh token invalid.');
    await expectError(client.sessionLogout(s, 'garbage', ''), 400, 3, 'Session token invalid.');
    assert.ok(await client.getAccount(s), 'nothing was revoked');
  });

  test('logout without a bearer token is 401, code 16', async () => {
    const res = await fx.server.raw('POST', '/v2/session/logout', { body: {} });
    assert.equal(res.status, 401, res.text);
    assert.equal(res.json?.code, 16, res.text);
    assert.equal(res.json?.message, 'Auth token required');
  });
});

describe('session.single_session', () => {
  const fx = serverFixture({ args: ['--session.single_session', 'true'] });

  test('a new login ends the other sessions of that user only', async () => {
    const client = fx.server.client();
    const id = newDeviceId();
    const first = await client.authenticateDevice(id, true);
    const bystander = await client.authenticateDevice(newDeviceId(), true);
    const second = await client.authenticateDevice(id, true);

    await expectError(client.getAccount(first), 401, 16, 'Auth token invalid');
    await expectError(client.sessionRefresh(copy(first)), 401, 16, 'Refresh token invalid or expired.');
    assert.equal((await client.getAccount(second)).user.id, first.user_id, 'the new login works (same second)');
    await client.sessionRefresh(second);
    assert.ok(await client.getAccount(second), 'and refreshing it does not end it');
    assert.ok(await client.getAccount(bystander), 'other users are not affected');
  });
});
