// 9. Sessions and revocations survive a restart (same data dir, same port).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, expectError, newDeviceId, newUsername, startServer } from './harness.mjs';

const copy = (s) => Session.restore(s.token, s.refresh_token);

describe('restart', () => {
  test('kept sessions still work, logged-out ones stay logged out', async (t) => {
    const server = await startServer({ t });
    const client = server.client();

    const keptId = newDeviceId();
    const keptName = newUsername();
    const kept = await client.authenticateDevice(keptId, true, keptName, { v: '1' });
    const gone = await client.authenticateDevice(newDeviceId(), true);
    // A third: a user who logged out everything with an empty body.
    const all = await client.authenticateDevice(newDeviceId(), true);
    await client.updateAccount(kept, { display_name: 'Kept' });

    assert.equal(await client.sessionLogout(gone, gone.token, gone.refresh_token), true);
    const res = await server.raw('POST', '/v2/session/logout', { bearer: all.token, body: {} });
    assert.equal(res.status, 200, res.text);

    const pid = server.child.pid;
    const exit = await server.restart();
    assert.equal(exit.code, 0, `latchkey exit code after SIGTERM (signal ${exit.signal})`);
    assert.notEqual(server.child.pid, pid, 'a new process');

    // The same client object keeps working: same host and port.
    const account = await client.getAccount(kept);
    assert.equal(account.user.id, kept.user_id, 'session token still valid after restart');
    assert.equal(account.user.display_name, 'Kept', 'account data persisted');
    const refreshed = copy(kept);
    await client.sessionRefresh(refreshed);
    assert.equal(refreshed.username, keptName);
    assert.deepEqual(refreshed.vars, { v: '1' });
    assert.equal((await client.getAccount(refreshed)).user.id, kept.user_id, 'refreshed token works');

    for (const s of [gone, all]) {
      await expectError(client.getAccount(s), 401, 16, 'Auth token invalid');
      await expectError(client.sessionRefresh(copy(s)), 401, 16, 'Refresh token invalid or expired.');
    }

    // Accounts persisted: logging in again finds the existing user.
    const again = await client.authenticateDevice(keptId, false);
    assert.equal(again.created, false);
    assert.equal(again.user_id, kept.user_id);

    // And a second restart changes nothing.
    await server.restart();
    assert.equal((await client.getAccount(refreshed)).user.id, kept.user_id);
    await expectError(client.getAccount(gone), 401, 16, 'Auth token invalid');
  });

  test('a logout answered 200 survives a crash (SIGKILL) right after it', async (t) => {
    const server = await startServer({ t });
    const client = server.client();
    const gone = await client.authenticateDevice(newDeviceId(), true);
    const kept = await client.authenticateDevice(newDeviceId(), true);
    await client.updateAccount(kept, { display_name: 'Durable' });
    assert.equal(await client.sessionLogout(gone, gone.token, gone.refresh_token), true);

    const exit = await server.kill('SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    await server.start();

    await expectError(client.getAccount(gone), 401, 16, 'Auth token invalid');
    await expectError(client.sessionRefresh(copy(gone)), 401, 16, 'Refresh token invalid or expired.');
    const account = await client.getAccount(kept);
    assert.equal(account.user.display_name, 'Durable', 'an update answered 200 is durable too');
    await client.sessionRefresh(copy(kept));
  });
});
