// 2. Email (and username + password) authentication through the official client.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { expectError, newEmail, newUsername, serverFixture } from './harness.mjs';

const newPassword = () => `pw-${randomUUID()}`;

describe('email authentication', () => {
  const fx = serverFixture();

  test('creates an account with email, password, username and vars, then logs in', async () => {
    const client = fx.server.client();
    const email = newEmail();
    const password = newPassword();
    const username = newUsername();

    const created = await client.authenticateEmail(email, password, true, username, { plan: 'gold' });
    assert.equal(created.created, true);
    assert.equal(created.username, username);
    assert.deepEqual(created.vars, { plan: 'gold' });

    const login = await client.authenticateEmail(email, password, false);
    assert.equal(login.created, false);
    assert.equal(login.user_id, created.user_id);
    assert.equal(login.username, username);
    assert.equal(login.vars, undefined, 'vars belong to a session, not to the account');

    const account = await client.getAccount(login);
    assert.equal(account.email, email);
    assert.equal(account.user.id, created.user_id);
  });

  test('a wrong password is 401, code 16', async () => {
    const client = fx.server.client();
    const email = newEmail();
    await client.authenticateEmail(email, newPassword(), true);
    await expectError(client.authenticateEmail(email, newPassword(), false), 401, 16, 'Invalid credentials.');
    await expectError(client.authenticateEmail(email, newPassword(), true), 401, 16, 'Invalid credentials.');
  });

  test('an unknown email with create=false is 404, code 5', async () => {
    await expectError(fx.server.client().authenticateEmail(newEmail(), newPassword(), false), 404, 5,
      'User account not found.');
  });

  test('email is case-insensitive and stored lower-case', async () => {
    const client = fx.server.client();
    const local = randomUUID();
    const password = newPassword();
    const created = await client.authenticateEmail(`${local}@Example.COM`, password, true);
    assert.equal(created.created, true);

    const upper = await client.authenticateEmail(`${local.toUpperCase()}@EXAMPLE.COM`, password, false);
    assert.equal(upper.created, false);
    assert.equal(upper.user_id, created.user_id);

    const lower = await client.authenticateEmail(`${local}@example.com`, password, true);
    assert.equal(lower.created, false, 'a different case does not create a second account');
    assert.equal(lower.user_id, created.user_id);

    const account = await client.getAccount(lower);
    assert.equal(account.email, `${local}@example.com`);
  });

  test('parallel first logins of one email with different passwords: one owner, the rest 401', async () => {
    const client = fx.server.client();
    const email = newEmail();
    const passwords = Array.from({ length: 6 }, () => newPassword());
    const results = await Promise.allSettled(passwords.map((p) => client.authenticateEmail(email, p, true)));
    const winners = results.map((r, i) => [r, i]).filter(([r]) => r.status === 'fulfilled');
    assert.equal(winners.length, 1, 'exactly one password gets in');
    const [[won, wi]] = winners;
    assert.equal(won.value.created, true);
    for (const r of results) {
      if (r.status === 'rejected') await expectError(Promise.reject(r.reason), 401, 16, 'Invalid credentials.');
    }
    const login = await client.authenticateEmail(email, passwords[wi], false);
    assert.equal(login.user_id, won.value.user_id);
  });

  test('a password shorter than 8 bytes is 400, code 3', async () => {
    await expectError(fx.server.client().authenticateEmail(newEmail(), '1234567', true), 400, 3,
      'Password must be at least 8 characters long.');
  });

  test('a password over 72 bytes is 400, code 3 (not 500)', async () => {
    const client = fx.server.client();
    await expectError(client.authenticateEmail(newEmail(), 'p'.repeat(73), true), 400, 3);
    // Bytes, not characters: 37 two-byte characters are 74 bytes.
    await expectError(client.authenticateEmail(newEmail(), 'é'.repeat(37), true), 400, 3);
    // 72 bytes exactly is fine, and logs in again.
    const email = newEmail();
    const password = `${randomUUID()}${randomUUID()}`.slice(0, 72);
    assert.equal(Buffer.byteLength(password), 72);
    const created = await client.authenticateEmail(email, password, true);
    assert.equal(created.created, true);
    assert.equal((await client.authenticateEmail(email, password, false)).user_id, created.user_id);
  });

  test('an invalid email address is 400, code 3', async () => {
    const client = fx.server.client();
    await expectError(client.authenticateEmail(`${randomUUID()}-at-example.com`, newPassword(), true), 400, 3);
    await expectError(client.authenticateEmail('a@b.c', newPassword(), true), 400, 3,
      'Invalid email address, must be 10-255 bytes.');
  });

  test('username + password login (no email)', async () => {
    const client = fx.server.client();
    const username = newUsername();
    const password = newPassword();
    const created = await client.authenticateEmail(newEmail(), password, true, username);

    const login = await client.authenticateEmail('', password, false, username);
    assert.equal(login.created, false);
    assert.equal(login.user_id, created.user_id);
    assert.equal(login.username, username);
    assert.equal((await client.getAccount(login)).user.id, created.user_id);

    await expectError(client.authenticateEmail('', newPassword(), false, username), 401, 16, 'Invalid credentials.');
    await expectError(client.authenticateEmail('', password, false, newUsername()), 404, 5, 'User account not found.');
    await expectError(client.authenticateEmail('', password, false), 400, 3,
      'Username is required when email address is not supplied.');
  });

  test('username + password login of a device-only account is 401 (no password set)', async () => {
    const client = fx.server.client();
    const username = newUsername();
    await client.authenticateDevice(`dev-${randomUUID()}`, true, username);
    await expectError(client.authenticateEmail('', newPassword(), false, username), 401, 16, 'Invalid credentials.');
  });
});
