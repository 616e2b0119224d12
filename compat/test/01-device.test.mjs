// 1. Device authentication through the official client.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  decodeJwt, expectError, newDeviceId, newUsername, nowSec, serverFixture,
} from './harness.mjs';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('device authentication', () => {
  const fx = serverFixture();

  test('creates an account, then logs in to the same one', async () => {
    const client = fx.server.client();
    const id = newDeviceId();

    const first = await client.authenticateDevice(id, true);
    assert.equal(first.created, true, 'first authentication creates the account');
    assert.match(first.user_id, UUID_RE, 'user_id is a UUID');
    assert.ok(first.username, 'a username is generated when none is given');
    assert.ok(first.token && first.refresh_token, 'both tokens are returned');

    const second = await client.authenticateDevice(id, true);
    assert.equal(second.created, false, 'second authentication does not create');
    assert.equal(second.user_id, first.user_id, 'same user');
    assert.equal(second.username, first.username, 'stored username is kept');
    assert.notEqual(second.token, first.token, 'a new login is a new session');

    // create omitted: defaults to true for an unknown id, plain login for a known one.
    const third = await client.authenticateDevice(id);
    assert.equal(third.user_id, first.user_id);
    const fresh = await client.authenticateDevice(newDeviceId());
    assert.equal(fresh.created, true, 'create defaults to true');
  });

  test('nakama-js decodes username, user_id, vars and expiries from the JWTs', async () => {
    const client = fx.server.client();
    const username = newUsername();
    const vars = { region: 'eu', 'build-id': '1.2.3', empty: '' };
    const session = await client.authenticateDevice(newDeviceId(), true, username, vars);

    assert.equal(session.username, username);
    assert.match(session.user_id, UUID_RE);
    assert.deepEqual(session.vars, vars);

    // Default lifetimes: 60 s session token, 3600 s refresh token.
    const now = nowSec();
    assert.ok(session.expires_at > now + 55 && session.expires_at <= now + 61,
      `session token expiry ${session.expires_at - now} s from now, want ~60`);
    assert.ok(session.refresh_expires_at > now + 3595 && session.refresh_expires_at <= now + 3601,
      `refresh token expiry ${session.refresh_expires_at - now} s from now, want ~3600`);
    assert.equal(session.isexpired(now), false);

    // Claims are Nakama's: both tokens HS256 with the same tid/uid/usn/vrs/iat.
    const tok = decodeJwt(session.token);
    const ref = decodeJwt(session.refresh_token);
    assert.equal(tok.header.alg, 'HS256');
    assert.equal(ref.header.alg, 'HS256');
    assert.match(tok.payload.tid, UUID_RE, 'tid claim');
    assert.equal(tok.payload.uid, session.user_id);
    assert.equal(tok.payload.usn, username);
    assert.deepEqual(tok.payload.vrs, vars);
    assert.equal(typeof tok.payload.iat, 'number', 'iat claim');
    for (const claim of ['tid', 'uid', 'usn', 'iat']) {
      assert.deepEqual(ref.payload[claim], tok.payload[claim], `refresh token carries the same ${claim}`);
    }
    assert.deepEqual(ref.payload.vrs, vars);
    assert.notEqual(session.token, session.refresh_token);
  });

  test('no vars: session.vars is undefined (vrs claim omitted)', async () => {
    const session = await fx.server.client().authenticateDevice(newDeviceId(), true);
    assert.equal(session.vars, undefined);
    assert.equal('vrs' in decodeJwt(session.token).payload, false);
  });

  test('create=false for an unknown device id is 404, code 5', async () => {
    await expectError(fx.server.client().authenticateDevice(newDeviceId(), false), 404, 5, 'User account not found.');
  });

  test('create=false for a known device id logs in', async () => {
    const client = fx.server.client();
    const id = newDeviceId();
    const created = await client.authenticateDevice(id, true);
    const again = await client.authenticateDevice(id, false);
    assert.equal(again.created, false);
    assert.equal(again.user_id, created.user_id);
  });

  test('the username parameter names a new account', async () => {
    const client = fx.server.client();
    const username = newUsername();
    const session = await client.authenticateDevice(newDeviceId(), true, username);
    assert.equal(session.created, true);
    assert.equal(session.username, username);
    const account = await client.getAccount(session);
    assert.equal(account.user.username, username);
  });

  test('the username parameter is ignored when logging in to an existing account', async () => {
    const client = fx.server.client();
    const id = newDeviceId();
    const username = newUsername();
    await client.authenticateDevice(id, true, username);
    const again = await client.authenticateDevice(id, true, newUsername());
    assert.equal(again.created, false);
    assert.equal(again.username, username);
  });

  test('a taken username is 409, code 6', async () => {
    const client = fx.server.client();
    const username = newUsername();
    await client.authenticateDevice(newDeviceId(), true, username);
    const other = newDeviceId();
    await expectError(client.authenticateDevice(other, true, username), 409, 6, 'Username is already in use.');
    // The failed attempt must not have created the account.
    await expectError(client.authenticateDevice(other, false), 404, 5);
  });

  test('a device id shorter than 10 bytes is 400, code 3', async () => {
    const client = fx.server.client();
    await expectError(client.authenticateDevice('short', true), 400, 3, 'Device ID invalid, must be 10-128 bytes.');
    await expectError(client.authenticateDevice('123456789', true), 400, 3, 'Device ID invalid, must be 10-128 bytes.');
    await expectError(client.authenticateDevice('x'.repeat(129), true), 400, 3, 'Device ID invalid, must be 10-128 bytes.');
    // The bounds themselves are fine.
    const ten = randomUUID().replaceAll('-', '').slice(0, 10);
    assert.equal((await client.authenticateDevice(ten, true)).created, true, '10 bytes is accepted');
    const max = `${newDeviceId()}`.padEnd(128, 'z');
    assert.equal((await client.authenticateDevice(max, true)).created, true, '128 bytes is accepted');
  });

  test('a device id with a space is 400, code 3', async () => {
    await expectError(fx.server.client().authenticateDevice(`has space ${newDeviceId()}`, true), 400, 3,
      'Device ID invalid, no spaces or control characters allowed.');
  });

  test('a username with a space is 400, code 3 (as the message says)', async () => {
    await expectError(fx.server.client().authenticateDevice(newDeviceId(), true, 'has space'), 400, 3,
      'Username invalid, no spaces or control characters allowed.');
  });

  test('parallel first logins of one device id all get the one account', async () => {
    const client = fx.server.client();
    const id = newDeviceId();
    const sessions = await Promise.all(Array.from({ length: 8 }, () => client.authenticateDevice(id, true)));
    const users = new Set(sessions.map((s) => s.user_id));
    assert.equal(users.size, 1, `one account, got ${[...users].join(', ')}`);
    assert.equal(sessions.filter((s) => s.created).length, 1, 'exactly one of them created it');
  });

  test('a wrong server key is 401, code 16', async () => {
    const wrong = fx.server.client('wrongkey');
    await expectError(wrong.authenticateDevice(newDeviceId(), true), 401, 16, 'Server key invalid');
  });
});
