// 14. Every identity Nakama knows, through the official client, with real credentials: device, email and
// custom ids, and Apple, Google, Game Center, Steam, Facebook (Graph API and Limited Login) and Facebook
// Instant Games, minted by latchkey-fakesocial (local HTTPS stand-ins with their own keys; the server verifies
// signatures, audiences and expiry for real). Authenticate, link, unlink, getAccount, getUsers, account
// deletion (also across a two-node cluster), the 501 of Nakama APIs Latchkey does not serve, and the saved
// login refresh token under the default configuration.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import {
  BIN, Session, clusterFixture, expectError, fakeSocial, mint, newCustomId, newDeviceId, newEmail, newUsername, nowSec,
  serverFixture, sleep,
} from './harness.mjs';

/** A copy of a session, so refreshing one does not change the other. */
const copy = (s) => Session.restore(s.token, s.refresh_token);

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const PASSWORD = 'correct-horse-battery';

/** The bound the server promises for refusing, on every node, the tokens of a deleted account. */
const REVOKE_MS = 1000;

/** A string of n random decimal digits, the first not 0. */
const digits = (n) => String(randomInt(1, 10)) + Array.from({ length: n - 1 }, () => randomInt(0, 10)).join('');

/** The token with one character in the middle of its signature changed. */
function tamperSignature(token) {
  const [h, p, s] = token.split('.');
  const i = Math.floor(s.length / 2);
  const c = s[i] === 'A' ? 'B' : 'A';
  return [h, p, s.slice(0, i) + c + s.slice(i + 1)].join('.');
}

/**
 * The nine identity kinds. Each names a fresh identity (newId), makes a credential the server accepts for it
 * (credential: the body of link/unlink; platform ones are minted fresh every time), and calls nakama-js's
 * authenticate<method>, link<method> and unlink<method> with it. linked(account) is what getAccount shows of
 * the kind: a list of ids for devices, the id otherwise. name is the platform's name in "Could not
 * authenticate <name> profile.", inUse Nakama's message for an identity another account has.
 */
const KINDS = [
  {
    kind: 'device',
    method: 'Device',
    inUse: 'Device ID already in use.',
    newId: newDeviceId,
    credential: async (id) => ({ id }),
    authenticate: (client, c, create) => client.authenticateDevice(c.id, create),
    link: (client, s, c) => client.linkDevice(s, c),
    unlink: (client, s, c) => client.unlinkDevice(s, c),
    linked: (account) => (account.devices ?? []).map((d) => d.id),
  },
  {
    kind: 'email',
    method: 'Email',
    inUse: 'Email is already in use.',
    newId: newEmail,
    credential: async (email) => ({ email, password: PASSWORD }),
    authenticate: (client, c, create) => client.authenticateEmail(c.email, c.password, create),
    link: (client, s, c) => client.linkEmail(s, c),
    unlink: (client, s, c) => client.unlinkEmail(s, c),
    linked: (account) => account.email,
  },
  {
    kind: 'custom',
    method: 'Custom',
    inUse: 'Custom ID is already in use.',
    newId: newCustomId,
    credential: async (id) => ({ id }),
    authenticate: (client, c, create) => client.authenticateCustom(c.id, create),
    link: (client, s, c) => client.linkCustom(s, c),
    unlink: (client, s, c) => client.unlinkCustom(s, c),
    linked: (account) => account.custom_id,
  },
  {
    kind: 'apple',
    method: 'Apple',
    name: 'Apple',
    inUse: 'Apple ID is already in use.',
    newId: () => `001234.${randomUUID().replaceAll('-', '')}.0042`,
    credential: async (sub) => ({ token: (await mint('apple', { sub })).token }),
    authenticate: (client, c, create) => client.authenticateApple(c.token, create),
    link: (client, s, c) => client.linkApple(s, c),
    unlink: (client, s, c) => client.unlinkApple(s, c),
    linked: (account) => account.user?.apple_id,
  },
  {
    kind: 'google',
    method: 'Google',
    name: 'Google',
    inUse: 'Google ID is already in use.',
    newId: () => digits(21),
    credential: async (sub) => ({ token: (await mint('google', { sub })).token }),
    authenticate: (client, c, create) => client.authenticateGoogle(c.token, create),
    link: (client, s, c) => client.linkGoogle(s, c),
    unlink: (client, s, c) => client.unlinkGoogle(s, c),
    linked: (account) => account.user?.google_id,
  },
  {
    kind: 'gamecenter',
    method: 'GameCenter',
    name: 'GameCenter',
    inUse: 'GameCenter ID is already in use.',
    newId: () => `T:_${randomUUID().replaceAll('-', '')}`,
    // The control API answers exactly the fields of nakama-js's ApiAccountGameCenter.
    credential: (playerId) => mint('gamecenter', { player_id: playerId }),
    authenticate: (client, c, create) => client.authenticateGameCenter(c.bundle_id, c.player_id, c.public_key_url,
      c.salt, c.signature, String(c.timestamp_seconds), undefined, create),
    link: (client, s, c) => client.linkGameCenter(s, c),
    unlink: (client, s, c) => client.unlinkGameCenter(s, c),
    linked: (account) => account.user?.gamecenter_id,
  },
  {
    kind: 'steam',
    method: 'Steam',
    name: 'Steam',
    inUse: 'Steam ID is already in use.',
    newId: () => `7656119${digits(10)}`,
    credential: async (steamId) => ({ token: (await mint('steam', { steam_id: steamId })).token }),
    authenticate: (client, c, create) => client.authenticateSteam(c.token, create),
    link: (client, s, c) => client.linkSteam(s, { account: c, sync: false }),
    unlink: (client, s, c) => client.unlinkSteam(s, c),
    linked: (account) => account.user?.steam_id,
  },
  {
    kind: 'facebook',
    method: 'Facebook',
    name: 'Facebook',
    inUse: 'Facebook ID is already in use.',
    newId: () => digits(16),
    credential: async (id) => ({ token: (await mint('facebook', { id, name: 'Player One' })).token }),
    authenticate: (client, c, create) => client.authenticateFacebook(c.token, create),
    link: (client, s, c) => client.linkFacebook(s, c),
    unlink: (client, s, c) => client.unlinkFacebook(s, c),
    linked: (account) => account.user?.facebook_id,
  },
  {
    kind: 'facebookinstantgame',
    method: 'FacebookInstantGame',
    name: 'Facebook Instant Game',
    inUse: 'Facebook Instant Game ID is already in use.',
    newId: () => digits(16),
    credential: async (playerId) => ({ signed_player_info: (await mint('facebookinstantgame', { player_id: playerId })).token }),
    authenticate: (client, c, create) => client.authenticateFacebookInstantGame(c.signed_player_info, create),
    link: (client, s, c) => client.linkFacebookInstantGame(s, c),
    unlink: (client, s, c) => client.unlinkFacebookInstantGame(s, c),
    linked: (account) => account.user?.facebook_instant_game_id,
  },
];

const KIND = Object.fromEntries(KINDS.map((k) => [k.kind, k]));

/** Asserts getAccount's account shows id as the kind's identity (for devices: among them). */
function assertLinked(k, account, id) {
  const shown = k.linked(account);
  if (Array.isArray(shown)) assert.ok(shown.includes(id), `${k.kind}: ${JSON.stringify(shown)} should include ${id}`);
  else assert.equal(shown, id, `${k.kind} in getAccount`);
}

/** Asserts getAccount's account does not show id as the kind's identity. */
function assertNotLinked(k, account, id) {
  const shown = k.linked(account);
  if (Array.isArray(shown)) assert.ok(!shown.includes(id), `${k.kind}: ${JSON.stringify(shown)} should not include ${id}`);
  else assert.notEqual(shown, id, `${k.kind} in getAccount`);
}

describe('identities', () => {
  const fx = serverFixture({ social: true });
  /** A fresh account with only a device id. */
  const deviceAccount = () => fx.server.client().authenticateDevice(newDeviceId(), true);

  for (const k of KINDS) {
    describe(k.kind, () => {
      test(`authenticate${k.method} creates the account, then logs in to it; create=false for an unknown one is 404, code 5`, async () => {
        const client = fx.server.client();
        const id = k.newId();
        const first = await k.authenticate(client, await k.credential(id), true);
        assert.equal(first.created, true, 'the first authentication creates the account');
        assert.match(first.user_id, UUID_RE);
        assert.ok(first.token && first.refresh_token, 'both tokens');

        const second = await k.authenticate(client, await k.credential(id), true);
        assert.equal(second.created, false, 'the second one logs in');
        assert.equal(second.user_id, first.user_id, 'to the same account');
        const third = await k.authenticate(client, await k.credential(id), false);
        assert.equal(third.user_id, first.user_id, 'create=false logs in to a known identity');
        assertLinked(k, await client.getAccount(third), id);

        await expectError(k.authenticate(client, await k.credential(k.newId()), false), 404, 5, 'User account not found.');
      });

      test(`link${k.method} on a device account: authenticate${k.method} reaches it; linking it again is fine; another account's is 409, code 6`, async () => {
        const client = fx.server.client();
        const s = await deviceAccount();
        const id = k.newId();
        assert.equal(await k.link(client, s, await k.credential(id)), true);
        assertLinked(k, await client.getAccount(s), id);

        const via = await k.authenticate(client, await k.credential(id), false);
        assert.equal(via.created, false);
        assert.equal(via.user_id, s.user_id, `authenticate${k.method} reaches the account it was linked to`);
        assert.equal(await k.link(client, s, await k.credential(id)), true, 'linking it to the same account again');

        // An identity that another account has (here: created it) is refused, and stays where it is.
        const otherId = k.newId();
        const other = await k.authenticate(client, await k.credential(otherId), true);
        assert.equal(other.created, true);
        await expectError(k.link(client, s, await k.credential(otherId)), 409, 6, k.inUse);
        assertNotLinked(k, await client.getAccount(s), otherId);
        assert.equal((await k.authenticate(client, await k.credential(otherId), false)).user_id, other.user_id,
          'the identity still logs in to its own account');
        // ... also when the other account got it by linking.
        await expectError(k.link(client, await deviceAccount(), await k.credential(id)), 409, 6, k.inUse);
      });

      test(`unlink${k.method} removes it; the last identity of an account or one it does not have is 403, code 7`, async () => {
        const client = fx.server.client();
        const s = await deviceAccount();
        const id = k.newId();
        await k.link(client, s, await k.credential(id));
        assert.equal(await k.unlink(client, s, await k.credential(id)), true);
        assertNotLinked(k, await client.getAccount(s), id);
        await expectError(k.authenticate(client, await k.credential(id), false), 404, 5, 'User account not found.');

        // An account whose only identity is this one keeps it.
        const onlyId = k.newId();
        const only = await k.authenticate(client, await k.credential(onlyId), true);
        const last = 'Cannot unlink last account identifier. Check profile exists and is not last link.';
        await expectError(k.unlink(client, only, await k.credential(onlyId)), 403, 7, last);
        assertLinked(k, await client.getAccount(only), onlyId);
        assert.equal((await k.authenticate(client, await k.credential(onlyId), false)).user_id, only.user_id);

        // Unlinking another account's identity removes nothing.
        await expectError(k.unlink(client, s, await k.credential(onlyId)), 403, 7, last);
        assert.equal((await k.authenticate(client, await k.credential(onlyId), false)).user_id, only.user_id);
      });
    });
  }

  test('getAccount shows every identity linked to one account; unlinking them one by one ends at the last', async () => {
    const client = fx.server.client();
    const deviceId = newDeviceId();
    const s = await client.authenticateDevice(deviceId, true);
    const ids = { device: newDeviceId() };
    await KIND.device.link(client, s, await KIND.device.credential(ids.device));
    for (const k of KINDS.filter((x) => x.kind !== 'device')) {
      ids[k.kind] = k.newId();
      assert.equal(await k.link(client, s, await k.credential(ids[k.kind])), true, `link${k.method}`);
    }

    const account = await client.getAccount(s);
    assert.equal(account.user.id, s.user_id);
    assert.deepEqual([...account.devices.map((d) => d.id)].sort(), [deviceId, ids.device].sort(), 'both devices');
    assert.equal(account.email, ids.email);
    assert.equal(account.custom_id, ids.custom);
    assert.equal(account.user.apple_id, ids.apple);
    assert.equal(account.user.google_id, ids.google);
    assert.equal(account.user.gamecenter_id, ids.gamecenter);
    assert.equal(account.user.steam_id, ids.steam);
    assert.equal(account.user.facebook_id, ids.facebook);
    assert.equal(account.user.facebook_instant_game_id, ids.facebookinstantgame);

    // Every one of them logs in to this account.
    for (const k of KINDS) {
      const via = await k.authenticate(client, await k.credential(ids[k.kind]), false);
      assert.equal(via.user_id, s.user_id, `authenticate${k.method}`);
    }

    // Unlink all but the first device; that one is the last identifier.
    await KIND.device.unlink(client, s, { id: ids.device });
    for (const k of KINDS.filter((x) => x.kind !== 'device')) {
      assert.equal(await k.unlink(client, s, await k.credential(ids[k.kind])), true, `unlink${k.method}`);
    }
    const bare = await client.getAccount(s);
    assert.deepEqual(bare.devices.map((d) => d.id), [deviceId]);
    for (const field of ['email', 'custom_id']) assert.equal(bare[field], undefined, field);
    for (const field of ['apple_id', 'google_id', 'gamecenter_id', 'steam_id', 'facebook_id', 'facebook_instant_game_id']) {
      assert.equal(bare.user[field], undefined, `user.${field}`);
    }
    await expectError(client.unlinkDevice(s, { id: deviceId }), 403, 7,
      'Cannot unlink last account identifier. Check profile exists and is not last link.');
  });

  test('a Facebook Limited Login token and a Graph API access token of one Facebook id reach one account', async () => {
    const client = fx.server.client();
    const id = digits(16);
    const limited = await client.authenticateFacebook((await mint('facebooklimited', { sub: id })).token, true);
    assert.equal(limited.created, true);
    const graph = await client.authenticateFacebook((await mint('facebook', { id })).token, false);
    assert.equal(graph.user_id, limited.user_id);
    assert.equal((await client.getAccount(graph)).user.facebook_id, id);
  });

  for (const [kind, name] of [['apple', 'Apple'], ['google', 'Google']]) {
    test(`forged or expired ${name} ID tokens are 401, code 16, for authenticate and link`, async () => {
      const client = fx.server.client();
      const k = KIND[kind];
      const sub = k.newId();
      const message = `Could not authenticate ${name} profile.`;
      const good = (await mint(kind, { sub })).token;
      const forged = {
        expired: (await mint(kind, { sub, exp: Math.floor(nowSec()) - 600 })).token,
        'wrong audience': (await mint(kind, { sub, aud: 'com.example.another-game' })).token,
        'tampered signature': tamperSignature(good),
        'tampered payload': (() => {
          const [h, p, sig] = good.split('.');
          const claims = JSON.parse(Buffer.from(p, 'base64url'));
          claims.sub = k.newId();
          return [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), sig].join('.');
        })(),
        "the other provider's token": (await mint(kind === 'apple' ? 'google' : 'apple', { sub, aud: kind === 'apple' ? 'com.example.game' : 'latchkey-test.apps.googleusercontent.com' })).token,
        garbage: 'not-a-jwt',
      };
      const s = await deviceAccount();
      for (const [what, token] of Object.entries(forged)) {
        await expectError(k.authenticate(client, { token }, true), 401, 16, message)
          .catch((err) => { throw new Error(`authenticate, ${what}: ${err.message}`); });
        await expectError(k.link(client, s, { token }), 401, 16, message)
          .catch((err) => { throw new Error(`link, ${what}: ${err.message}`); });
      }
      // Nothing was created or linked by them: the genuine token still makes a new account.
      assertNotLinked(k, await client.getAccount(s), sub);
      assert.equal((await k.authenticate(client, { token: good }, true)).created, true);
    });
  }

  test('invalid Game Center, Steam, Facebook and Facebook Instant Game credentials are 401, code 16', async () => {
    const client = fx.server.client();
    const gc = await mint('gamecenter', { player_id: KIND.gamecenter.newId() });
    const cases = [
      [KIND.gamecenter, { ...gc, player_id: KIND.gamecenter.newId() }, 'a signature of another player'],
      [KIND.gamecenter, { ...gc, salt: Buffer.from('othersalt').toString('base64') }, 'another salt'],
      [KIND.gamecenter, await mint('gamecenter', { player_id: KIND.gamecenter.newId(), bundle_id: 'com.example.other' }), 'another bundle id'],
      [KIND.steam, { token: 'A1B2C3D4E5F60718293A4B5C6D7E8F90' }, 'a ticket Steam does not know'],
      [KIND.facebook, { token: 'EAAT0000000000000000000000000000000000000000' }, 'a token the Graph API does not know'],
      [KIND.facebookinstantgame, { signed_player_info: (await mint('facebookinstantgame', { player_id: digits(16), secret: 'wrong-secret' })).token }, 'signed with another secret'],
    ];
    for (const [k, cred, what] of cases) {
      await expectError(k.authenticate(client, cred, true), 401, 16, `Could not authenticate ${k.name} profile.`)
        .catch((err) => { throw new Error(`${k.kind}, ${what}: ${err.message}`); });
    }
  });

  test('deleteAccount: the token is refused right away, and the device id then makes a new account', async () => {
    const client = fx.server.client();
    const deviceId = newDeviceId();
    const s = await client.authenticateDevice(deviceId, true);
    const other = await client.authenticateDevice(deviceId, true); // a second session of the account
    const appleId = KIND.apple.newId();
    await KIND.apple.link(client, s, await KIND.apple.credential(appleId));

    assert.equal(await client.deleteAccount(s), true);
    await expectError(client.getAccount(s), 401, 16, 'Auth token invalid');
    await expectError(client.getAccount(other), 401, 16, 'Auth token invalid');

    const again = await client.authenticateDevice(deviceId, true);
    assert.equal(again.created, true, 'the device id is free again');
    assert.notEqual(again.user_id, s.user_id, 'a new account');
    // The linked Apple ID went with the account.
    await expectError(KIND.apple.authenticate(client, await KIND.apple.credential(appleId), false), 404, 5,
      'User account not found.');
    assert.deepEqual((await client.getUsers(again, [s.user_id])).users, [], 'getUsers no longer finds it');
  });

  test('deleteAccount: its refresh tokens are 401, code 16, as the ended sessions they are', async () => {
    // Nakama ends every session of the account (SessionLogout with no tokens: sessionCache.RemoveAll), and its
    // SessionRefresh checks the session cache before it looks the account up: "Refresh token invalid or
    // expired.", not "User account not found.".
    const client = fx.server.client();
    const s = await client.authenticateDevice(newDeviceId(), true);
    assert.equal(await client.deleteAccount(copy(s)), true);
    await expectError(client.sessionRefresh(copy(s)), 401, 16, 'Refresh token invalid or expired.');
  });

  test('getUsers by ids and usernames returns the public profiles', async () => {
    const client = fx.server.client();
    const alice = await client.authenticateDevice(newDeviceId(), true, newUsername());
    const bob = await client.authenticateDevice(newDeviceId(), true, newUsername());
    const ids = { google: KIND.google.newId(), steam: KIND.steam.newId(), facebook: KIND.facebook.newId(), gamecenter: KIND.gamecenter.newId() };
    for (const kind of Object.keys(ids)) await KIND[kind].link(client, bob, await KIND[kind].credential(ids[kind]));
    await client.updateAccount(bob, { display_name: 'Bob', lang_tag: 'de', location: 'Berlin', timezone: 'Europe/Berlin' });

    const byId = await client.getUsers(alice, [bob.user_id]);
    assert.equal(byId.users.length, 1);
    const u = byId.users[0];
    assert.equal(u.id, bob.user_id);
    assert.equal(u.username, bob.username);
    assert.equal(u.display_name, 'Bob');
    assert.equal(u.lang_tag, 'de');
    assert.equal(u.location, 'Berlin');
    assert.equal(u.timezone, 'Europe/Berlin');
    assert.equal(u.google_id, ids.google);
    assert.equal(u.steam_id, ids.steam);
    assert.equal(u.facebook_id, ids.facebook);
    assert.equal(u.gamecenter_id, ids.gamecenter);
    assert.ok(u.create_time && u.update_time, 'create and update times');

    const byName = await client.getUsers(alice, undefined, [alice.username]);
    assert.deepEqual(byName.users.map((x) => [x.id, x.username]), [[alice.user_id, alice.username]]);

    // Both ways at once, naming one user twice: each user once.
    const both = await client.getUsers(alice, [alice.user_id, bob.user_id], [bob.username]);
    assert.deepEqual(both.users.map((x) => x.id).sort(), [alice.user_id, bob.user_id].sort());

    // Unknown ids and usernames are skipped.
    const none = await client.getUsers(alice, [randomUUID()], [newUsername()]);
    assert.deepEqual(none.users, []);
  });

  test('a Nakama call Latchkey does not serve is 501, code 12', async () => {
    const client = fx.server.client();
    const s = await deviceAccount();
    await expectError(client.listStorageObjects(s, 'saves'), 501, 12, 'Latchkey serves authentication and sessions only');
    await expectError(client.listFriends(s), 501, 12, 'Latchkey serves authentication and sessions only');
    await expectError(client.writeStorageObjects(s, [{ collection: 'saves', key: 'slot1', value: { level: 3 } }]), 501, 12,
      'Latchkey serves authentication and sessions only');
    assert.ok(await client.getAccount(s), 'the session is unaffected');
  });

  test('by default, the refresh token saved at login still works after the client refreshed twice', async () => {
    const client = fx.server.client();
    const login = await client.authenticateDevice(newDeviceId(), true);
    const saved = Session.restore(login.token, login.refresh_token); // what a game stores at login

    const live = copy(saved);
    await client.sessionRefresh(live); // the client refreshing silently while it plays
    await client.sessionRefresh(live);
    assert.equal((await client.getAccount(live)).user.id, login.user_id);

    // Next launch: the game restores what it saved at login.
    const restored = Session.restore(saved.token, saved.refresh_token);
    await client.sessionRefresh(restored);
    assert.equal((await client.getAccount(restored)).user.id, login.user_id);
    assert.equal((await client.getAccount(live)).user.id, login.user_id, 'the live copy still works too');
  });

  test('the server verified every platform credential with its stand-in (runs after the tests above)', async () => {
    const hits = await (await fakeSocial()).hits();
    for (const provider of ['apple', 'google', 'facebook', 'facebooklimited', 'steam', 'gamecenter']) {
      assert.ok(hits[provider] > 0, `${provider}: ${hits[provider]} requests (${JSON.stringify(hits)})`);
    }
  });
});

describe('account deletion on two nodes', () => {
  const fx = clusterFixture({ nodes: 2, bin: BIN });

  test('a token of an account deleted through node A is refused by node B within 1 s', async (t) => {
    const [A, B] = fx.nodes;
    const deviceId = newDeviceId();
    const s = await A.client().authenticateDevice(deviceId, true);
    assert.equal((await B.client().getAccount(s)).user.id, s.user_id, 'node B accepts the token first');

    assert.equal(await A.client().deleteAccount(s), true);
    const t0 = performance.now();
    let refused = false;
    while (!refused && performance.now() - t0 < REVOKE_MS + 500) {
      try {
        await B.client().getAccount(s);
        await sleep(25);
      } catch (err) {
        refused = true;
        const ms = performance.now() - t0;
        t.diagnostic(`node B refused the token ${Math.round(ms)} ms after the delete returned`);
        await expectError(Promise.reject(err), 401, 16, 'Auth token invalid');
        assert.ok(ms < REVOKE_MS, `node B refused the token only ${Math.round(ms)} ms later (bound ${REVOKE_MS} ms)`);
      }
    }
    assert.ok(refused, `node B still accepted the token ${REVOKE_MS + 500} ms after the delete through node A`);

    const again = await B.client().authenticateDevice(deviceId, true);
    assert.equal(again.created, true, 'the device id makes a new account on node B');
    assert.notEqual(again.user_id, s.user_id);
  });
});
