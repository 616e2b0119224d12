// 11. Latchkey's session security beyond Nakama, seen through the official client: refresh-token
// rotation with reuse detection, the caller's session list, ending one session, logout scopes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, expectError, newDeviceId, serverFixture, sleep } from './harness.mjs';

/** A copy of a session, so refreshing one does not change the other. */
const copy = (s) => Session.restore(s.token, s.refresh_token);

describe('session security', () => {
  const fx = serverFixture({ args: ['--session.refresh_rotation', 'true', '--session.refresh_reuse_grace_sec', '1'] });

  test('each refresh rotates the refresh token; a retry within the grace window gets the same pair', async () => {
    const client = fx.server.client();
    const s = await client.authenticateDevice(newDeviceId(), true);
    const first = await client.sessionRefresh(copy(s));
    assert.notEqual(first.refresh_token, s.refresh_token, 'a new refresh token');
    const retry = await client.sessionRefresh(copy(s));
    assert.equal(retry.token, first.token, 'same session token on retry');
    assert.equal(retry.refresh_token, first.refresh_token, 'same refresh token on retry');
    // The rotated session keeps working and keeps refreshing.
    const second = await client.sessionRefresh(copy(first));
    assert.equal((await client.getAccount(second)).user.id, s.user_id);
  });

  test('a superseded refresh token used after the grace window ends the whole session', async () => {
    const client = fx.server.client();
    const s = await client.authenticateDevice(newDeviceId(), true);
    const rotated = await client.sessionRefresh(copy(s));
    await sleep(1500);
    await expectError(client.sessionRefresh(copy(s)), 401, 16, 'Refresh token invalid or expired.');
    // The thief's replay took the legitimate client's session down too, as intended.
    await expectError(client.getAccount(rotated), 401, 16, 'Auth token invalid');
    await expectError(client.sessionRefresh(copy(rotated)), 401, 16, 'Refresh token invalid or expired.');
  });

  test('a player lists their sessions and ends one of them', async () => {
    const client = fx.server.client();
    const id = newDeviceId();
    const phone = await client.authenticateDevice(id, true);
    const tablet = await client.authenticateDevice(id, true);
    const list = await fx.server.raw('GET', '/v2/account/sessions', { bearer: tablet.token });
    assert.equal(list.status, 200);
    const sessions = list.json.sessions;
    assert.equal(sessions.length, 2);
    assert.deepEqual(sessions.map((x) => x.current), [true, false]);
    const phoneId = sessions.find((x) => !x.current).id;
    const del = await fx.server.raw('DELETE', `/v2/account/sessions/${phoneId}`, { bearer: tablet.token });
    assert.equal(del.status, 200);
    assert.deepEqual(del.json, {});
    await expectError(client.getAccount(phone), 401, 16, 'Auth token invalid');
    await expectError(client.sessionRefresh(copy(phone)), 401, 16, 'Refresh token invalid or expired.');
    assert.ok(await client.getAccount(tablet));
  });

  test('logout scope "others" keeps only the calling session', async () => {
    const client = fx.server.client();
    const id = newDeviceId();
    const a = await client.authenticateDevice(id, true);
    const b = await client.authenticateDevice(id, true);
    const res = await fx.server.raw('POST', '/v2/session/logout', { bearer: a.token, body: { scope: 'others' } });
    assert.equal(res.status, 200);
    assert.ok(await client.getAccount(a));
    await expectError(client.getAccount(b), 401, 16, 'Auth token invalid');
  });
});
