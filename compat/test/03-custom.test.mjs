// 3. Custom id authentication through the official client.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectError, newCustomId, newUsername, serverFixture } from './harness.mjs';

describe('custom id authentication', () => {
  const fx = serverFixture();

  test('creates an account, then logs in to the same one', async () => {
    const client = fx.server.client();
    const id = newCustomId();
    const username = newUsername();

    const created = await client.authenticateCustom(id, true, username, { from: 'custom' });
    assert.equal(created.created, true);
    assert.equal(created.username, username);
    assert.deepEqual(created.vars, { from: 'custom' });

    const login = await client.authenticateCustom(id, false);
    assert.equal(login.created, false);
    assert.equal(login.user_id, created.user_id);
    assert.equal(login.username, username);

    const account = await client.getAccount(login);
    assert.equal(account.custom_id, id);
    assert.equal(account.user.id, created.user_id);
  });

  test('create=false for an unknown custom id is 404, code 5', async () => {
    await expectError(fx.server.client().authenticateCustom(newCustomId(), false), 404, 5, 'User account not found.');
  });

  test('a custom id shorter than 6 bytes is 400, code 3', async () => {
    const client = fx.server.client();
    await expectError(client.authenticateCustom('abcde', true), 400, 3, 'Custom ID invalid, must be 6-128 bytes.');
    await expectError(client.authenticateCustom('c'.repeat(129), true), 400, 3, 'Custom ID invalid, must be 6-128 bytes.');
    await expectError(client.authenticateCustom('', true), 400, 3, 'Custom ID is required.');
    const six = newCustomId().slice(-6);
    assert.equal((await client.authenticateCustom(six, true)).created, true, '6 bytes is accepted');
  });

  test('custom ids and device ids are separate namespaces', async () => {
    const client = fx.server.client();
    const id = `shared-${newCustomId()}`;
    const custom = await client.authenticateCustom(id, true);
    const device = await client.authenticateDevice(id, true);
    assert.equal(device.created, true);
    assert.notEqual(device.user_id, custom.user_id);
  });
});
