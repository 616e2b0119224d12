// 5. Account get/update through the official client.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  expectError, newCustomId, newDeviceId, newEmail, newUsername, serverFixture,
} from './harness.mjs';

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

function assertRecentTimestamp(value, what) {
  assert.match(value ?? '', RFC3339_UTC, `${what} is RFC 3339, whole seconds, UTC: ${value}`);
  const ms = Date.parse(value);
  assert.ok(Math.abs(ms - Date.now()) < 120_000, `${what} ${value} is close to now`);
}

describe('account', () => {
  const fx = serverFixture();

  test('getAccount of a device account', async () => {
    const client = fx.server.client();
    const id = newDeviceId();
    const username = newUsername();
    const session = await client.authenticateDevice(id, true, username);
    const account = await client.getAccount(session);

    assert.equal(account.user.id, session.user_id);
    assert.equal(account.user.username, username);
    assert.deepEqual(account.devices, [{ id }]);
    assertRecentTimestamp(account.user.create_time, 'create_time');
    if (account.user.update_time !== undefined) assertRecentTimestamp(account.user.update_time, 'update_time');
    assert.equal(account.email, undefined, 'no email on a device account');
    assert.equal(account.custom_id, undefined, 'no custom_id on a device account');
    assert.equal(account.disable_time, undefined, 'disable_time is never shown to the owner');
  });

  test('getAccount of email and custom accounts', async () => {
    const client = fx.server.client();
    const email = newEmail();
    const es = await client.authenticateEmail(email, `pw-${randomUUID()}`, true);
    const ea = await client.getAccount(es);
    assert.equal(ea.email, email);
    assert.equal(ea.user.id, es.user_id);
    assert.equal(ea.custom_id, undefined);
    assert.ok(ea.devices === undefined || ea.devices.length === 0, `no devices: ${JSON.stringify(ea.devices)}`);
    assertRecentTimestamp(ea.user.create_time, 'create_time');

    const customId = newCustomId();
    const cs = await client.authenticateCustom(customId, true);
    const ca = await client.getAccount(cs);
    assert.equal(ca.custom_id, customId);
    assert.equal(ca.email, undefined);
    assert.equal(ca.user.id, cs.user_id);
  });

  test('updateAccount sets profile fields, getAccount shows them', async () => {
    const client = fx.server.client();
    const session = await client.authenticateDevice(newDeviceId(), true);
    const profile = {
      display_name: 'Zoë the Brave',
      lang_tag: 'fr',
      location: 'Lyon, FR',
      timezone: 'Europe/Paris',
      avatar_url: 'https://example.com/avatar/zoe.png',
    };
    assert.equal(await client.updateAccount(session, profile), true);
    const account = await client.getAccount(session);
    for (const [k, v] of Object.entries(profile)) assert.equal(account.user[k], v, k);
    assert.equal(account.user.username, session.username, 'username unchanged');

    // Absent fields stay as they were.
    await client.updateAccount(session, { location: 'Paris, FR' });
    const after = await client.getAccount(session);
    assert.equal(after.user.location, 'Paris, FR');
    assert.equal(after.user.display_name, profile.display_name);
    assert.equal(after.user.timezone, profile.timezone);
  });

  test('updateAccount with "" clears a field; a value too long for it is 400, code 3', async () => {
    const client = fx.server.client();
    const session = await client.authenticateDevice(newDeviceId(), true);
    await client.updateAccount(session, { display_name: 'Temporary', location: 'Here' });
    await client.updateAccount(session, { display_name: '' });
    const account = await client.getAccount(session);
    assert.equal(account.user.display_name, undefined, 'cleared (and omitted, as a zero value)');
    assert.equal(account.user.location, 'Here');

    await expectError(client.updateAccount(session, { display_name: 'd'.repeat(256) }), 400, 3);
    await expectError(client.updateAccount(session, { lang_tag: 'l'.repeat(19) }), 400, 3);
    await expectError(client.updateAccount(session, { username: 'u'.repeat(129) }), 400, 3, 'Username invalid, must be 1-128 bytes.');
    assert.equal((await client.getAccount(session)).user.location, 'Here', 'failed updates change nothing');
  });

  test('updateAccount to a taken username is 409, code 6', async () => {
    const client = fx.server.client();
    const taken = newUsername();
    await client.authenticateDevice(newDeviceId(), true, taken);
    const session = await client.authenticateDevice(newDeviceId(), true);
    await expectError(client.updateAccount(session, { username: taken }), 409, 6, 'Username is already in use.');
    assert.equal((await client.getAccount(session)).user.username, session.username, 'username unchanged');
  });

  test('updateAccount with no fields is 400, code 3', async () => {
    const client = fx.server.client();
    const session = await client.authenticateDevice(newDeviceId(), true);
    await expectError(client.updateAccount(session, {}), 400, 3, 'No fields to update.');
  });

  test('updateAccount with an empty username is 400, code 3', async () => {
    const client = fx.server.client();
    const session = await client.authenticateDevice(newDeviceId(), true);
    await expectError(client.updateAccount(session, { username: '' }), 400, 3, 'Username invalid, must be 1-128 bytes.');
  });

  test('rename, then refresh: the session carries the new username', async () => {
    const client = fx.server.client();
    const id = newDeviceId();
    const session = await client.authenticateDevice(id, true, newUsername());
    const renamed = newUsername();
    assert.equal(await client.updateAccount(session, { username: renamed }), true);
    assert.equal((await client.getAccount(session)).user.username, renamed);

    await client.sessionRefresh(session);
    assert.equal(session.username, renamed, 'refresh reads the username from the store');

    const login = await client.authenticateDevice(id, false);
    assert.equal(login.username, renamed, 'a new login sees it too');
  });
});
