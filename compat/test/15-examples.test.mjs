// 15. The examples in every language: the same nakama-js checks, mirroring each Go example's main_test.go, run
// against the Go build (the example's own binary), the TypeScript build (latchkey with --runtime.path and
// --runtime.js_entrypoint) and the Lua build (latchkey with --runtime.path) of session-vars, rename-token and
// photon-auth. Then Nakama's own session-variable snippets from its documentation, compiled and loaded
// unchanged, and the nkruntime declarations refusing a Nakama function Latchkey does not serve.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  EXAMPLES_DIR, EXAMPLE_LANGS, SERVER_KEY, Session, assertRawError, decodeJwt, exampleBuild, exampleFixture,
  expectError, newDeviceId, newEmail, serverFixture, sleep, startServer,
} from './harness.mjs';

const PASSWORD = 'correct-horse-battery';

/** The token with one character of its signature changed, as the Go tests tamper it. */
function tamperSignature(token) {
  const sig = token.lastIndexOf('.') + 1;
  return token.slice(0, sig) + (token[sig] === 'A' ? 'B' : 'A') + token.slice(sig + 1);
}

// ---------------------------------------------------------------------------------------------------
// session-vars (examples/session-vars/main_test.go)

const BLOCKED_REGIONS = ['--runtime.env', 'blocked_regions=north-pole,south-pole'];

/**
 * Device logins: the X-Region header (none when empty) and the vars the client sends, the vars the token must
 * carry, and the status of getAccount.
 */
const SESSION_VARS_CASES = [
  { name: 'no header, no vars', region: '', vars: undefined, want: { region: 'global', tier: 'free' }, status: 200 },
  {
    name: 'header and client vars', region: 'EU-West', vars: { platform: 'android' },
    want: { region: 'eu-west', tier: 'free', platform: 'android' }, status: 200,
  },
  {
    name: 'client sets region and tier itself', region: '', vars: { region: 'north-pole', tier: 'gold', platform: 'pc' },
    want: { region: 'global', tier: 'free', platform: 'pc' }, status: 200,
  },
  { name: 'implausible header', region: '../north pole', vars: undefined, want: { region: 'global', tier: 'free' }, status: 200 },
  { name: 'blocked region', region: 'north-pole', vars: undefined, want: { region: 'north-pole', tier: 'free' }, status: 403 },
  {
    name: 'blocked region, second entry', region: 'South-Pole', vars: { region: 'global' },
    want: { region: 'south-pole', tier: 'free' }, status: 403,
  },
];

/**
 * A device login through nakama-js's API client, which (unlike Client.authenticateDevice) takes request
 * options: the region header is set by a load balancer in production, here by the test.
 */
async function authenticateDeviceWithRegion(client, id, region, vars) {
  const headers = region ? { 'X-Region': region } : {};
  const s = await client.apiClient.authenticateDevice(SERVER_KEY, '', { id, vars }, true, undefined, { headers });
  return Session.restore(s.token, s.refresh_token);
}

for (const lang of EXAMPLE_LANGS) {
  describe(`session-vars (${lang})`, () => {
    const fx = exampleFixture('session-vars', lang, { args: BLOCKED_REGIONS });

    for (const tc of SESSION_VARS_CASES) {
      test(tc.name, async () => {
        const client = fx.server.client();
        const session = await authenticateDeviceWithRegion(client, newDeviceId(), tc.region, tc.vars);
        assert.deepEqual(decodeJwt(session.token).payload.vrs, tc.want, 'the token\'s vrs');
        assert.deepEqual(session.vars, tc.want, 'session.vars as nakama-js decodes them');
        if (tc.status === 403) {
          // A refresh that tries to change the region keeps the login's vars, and the refusal.
          await client.sessionRefresh(session, { region: 'global' });
          assert.deepEqual(decodeJwt(session.token).payload.vrs, tc.want, 'the refreshed token\'s vrs');
          await expectError(client.getAccount(session), 403, 7, 'Account access is not available in your region.');
        } else {
          const account = await client.getAccount(session);
          assert.equal(account.user.id, session.user_id, 'getAccount answers the caller\'s account');
        }
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// rename-token (examples/rename-token/main_test.go)

const RENAME = '/v2/rpc/update_username?unwrap=true';

for (const lang of EXAMPLE_LANGS) {
  describe(`rename-token (${lang})`, () => {
    const fx = exampleFixture('rename-token', lang);

    test('update_username renames the caller and answers a token with the new usn', async () => {
      const client = fx.server.client();
      const old = await client.authenticateDevice(newDeviceId(), true, undefined, { platform: 'ios' });

      const res = await fx.server.raw('POST', RENAME, { bearer: old.token, body: '{"username": "renamed_player"}' });
      assert.equal(res.status, 200, `rename: body ${res.text}`);
      assert.equal(typeof res.json?.token, 'string', `rename: body ${res.text}`);
      const c = decodeJwt(res.json.token).payload;
      assert.equal(c.usn, 'renamed_player', 'usn');
      assert.equal(c.uid, old.user_id, 'uid');
      assert.equal(c.exp, res.json.exp, 'exp as answered');
      assert.equal(c.vrs?.platform, 'ios', 'the caller\'s vars carry over');

      const account = await client.getAccount(Session.restore(res.json.token, ''));
      assert.equal(account.user.id, old.user_id);
      assert.equal(account.user.username, 'renamed_player');

      // Without unwrap the payload travels as a JSON string and the answer is {"payload": "..."}: nakama-js's rpc.
      const wrapped = await client.rpc(old, 'update_username', { username: 'renamed_again' });
      assert.equal(typeof wrapped.payload?.token, 'string', `wrapped rename: ${JSON.stringify(wrapped)}`);
      assert.equal(decodeJwt(wrapped.payload.token).payload.usn, 'renamed_again');
    });

    test('refusals', async (t) => {
      const other = await fx.server.client().authenticateDevice(newDeviceId(), true);
      const cases = [
        { name: 'http key, no user', url: `${RENAME}&http_key=defaulthttpkey`, bearer: undefined, body: '{"username":"x_from_server"}', status: 401, code: 16 },
        { name: 'empty body', body: '', status: 400, code: 3 },
        { name: 'not JSON', body: '{"username":', status: 400, code: 3 },
        { name: 'empty username', body: '{"username":""}', status: 400, code: 3 },
        { name: 'username with a space', body: '{"username":"two words"}', status: 400, code: 3 },
        { name: 'username too long', body: `{"username":"${'n'.repeat(129)}"}`, status: 400, code: 3 },
        { name: 'username taken', body: '{"username":"renamed_again"}', status: 409, code: 6 },
      ];
      for (const tc of cases) {
        await t.test(tc.name, async () => {
          const bearer = 'bearer' in tc ? tc.bearer : other.token;
          const res = await fx.server.raw('POST', tc.url ?? RENAME, { bearer, body: tc.body });
          assertRawError(res, tc.status, tc.code);
          assert.notEqual(res.json.message, '', 'a message');
        });
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// photon-auth (examples/photon-auth/main_test.go)

const PHOTON = '/v2/rpc/photon_auth?http_key=defaulthttpkey&unwrap=true';
const MSG_MISSING = 'Parameter auth_token is missing.';
const MSG_EXPIRED = 'Session token expired; refresh the session and connect again.';
const MSG_ENDED = 'Session has ended; log in again.';
const MSG_INVALID = 'Invalid session token.';

/** Photon's contract: HTTP 200 and a JSON object, for success and failure alike. */
function checkPhoton(res, want) {
  assert.equal(res.status, 200, `status; body ${res.text}`);
  assert.ok(res.json && typeof res.json === 'object', `a JSON object, got ${JSON.stringify(res.text)}`);
  assert.deepEqual(res.json, want);
}

for (const lang of EXAMPLE_LANGS) {
  describe(`photon-auth (${lang})`, () => {
    const fx = exampleFixture('photon-auth', lang);
    const tokens = {};
    let shortLived; // a server with 1 s tokens, for the expired-token check

    before(async () => {
      const build = exampleBuild('photon-auth', lang);
      const started = startServer({ bin: build.bin, args: [...build.args, '--session.token_expiry_sec', '1'], requires: build.requires });
      const client = fx.server.client();
      const valid = await client.authenticateDevice(newDeviceId(), true);
      tokens.valid = valid.token;
      tokens.uid = valid.user_id;
      tokens.usn = valid.username;
      const loggedOut = await client.authenticateDevice(newDeviceId(), true);
      await client.sessionLogout(loggedOut, loggedOut.token, loggedOut.refresh_token);
      tokens.loggedOut = loggedOut.token;
      tokens.tampered = tamperSignature(valid.token);
      shortLived = await started;
      const short = await shortLived.client().authenticateDevice(newDeviceId(), true);
      tokens.expiring = short.token;
    });
    after(async () => {
      await shortLived?.stop();
    });

    const q = (token) => `&auth_token=${encodeURIComponent(token)}`;
    const cases = [
      { name: 'valid token', query: () => q(tokens.valid), want: () => ({ ResultCode: 1, UserId: tokens.uid, Nickname: tokens.usn }) },
      { name: 'no auth_token', query: () => '', want: () => ({ ResultCode: 3, Message: MSG_MISSING }) },
      { name: 'empty auth_token', query: () => '&auth_token=', want: () => ({ ResultCode: 3, Message: MSG_MISSING }) },
      { name: 'garbage token', query: () => '&auth_token=not-a-token', want: () => ({ ResultCode: 2, Message: MSG_INVALID }) },
      { name: 'tampered signature', query: () => q(tokens.tampered), want: () => ({ ResultCode: 2, Message: MSG_INVALID }) },
      { name: 'logged-out token', query: () => q(tokens.loggedOut), want: () => ({ ResultCode: 2, Message: MSG_ENDED }) },
    ];
    for (const tc of cases) {
      test(tc.name, async () => {
        // Photon's default call is a GET without a Content-Type.
        checkPhoton(await fx.server.raw('GET', PHOTON + tc.query()), tc.want());
      });
    }

    test('POST with a JSON dictionary', async () => {
      // Photon with AuthPostData set to a dictionary posts JSON; the server then echoes application/json.
      const res = await fx.server.raw('POST', PHOTON, { body: { auth_token: tokens.valid } });
      assert.equal(res.headers.get('content-type'), 'application/json', 'Content-Type');
      checkPhoton(res, { ResultCode: 1, UserId: tokens.uid, Nickname: tokens.usn });
    });

    test('POST body not JSON', async () => {
      const res = await fx.server.raw('POST', PHOTON, {
        body: 'auth_token=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      checkPhoton(res, { ResultCode: 3, Message: MSG_MISSING });
    });

    test('wrong http_key', async () => {
      // The server refuses the caller before the module runs: a 401, not a result code.
      const res = await fx.server.raw('GET', `/v2/rpc/photon_auth?http_key=wrong&unwrap=true${q(tokens.valid)}`);
      assertRawError(res, 401, 16);
    });

    test('expired token', async () => {
      const exp = decodeJwt(tokens.expiring).payload.exp;
      await sleep(Math.max(0, exp * 1000 + 100 - Date.now()));
      checkPhoton(await shortLived.raw('GET', PHOTON + q(tokens.expiring)), { ResultCode: 2, Message: MSG_EXPIRED });
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// Nakama's documentation: the session-variable snippets of heroiclabs/nakama-docs
// (docs/nakama/concepts/session.md, "Setting with server" and "Accessing with server"), unchanged apart from
// the TypeScript one's reference path: examples/session-vars/nakama-docs/.

const DOCS_DIR = path.join(EXAMPLES_DIR, 'session-vars', 'nakama-docs');

describe('Nakama\'s session-variable snippets', () => {
  describe('TypeScript (nakama-docs.ts)', () => {
    const build = path.join(DOCS_DIR, 'build');
    const fx = serverFixture({
      args: ['--runtime.path', build, '--runtime.js_entrypoint', 'index.js'],
      requires: [{ path: path.join(build, 'index.js'), hint: 'build it with `cd examples && npm ci && npm run build`' }],
    });

    test('the before-authenticate-email hook sets the session variables', async () => {
      const client = fx.server.client();
      const session = await client.authenticateEmail(newEmail(), PASSWORD, true, undefined, { key: 'value' });
      // The snippet replaces the client's vars with its own.
      assert.deepEqual(decodeJwt(session.token).payload.vrs, { key: 'key', value: 'value' });
      const account = await client.getAccount(session);
      assert.equal(account.user.id, session.user_id);
    });
  });

  describe('Lua (nakama_docs.lua)', () => {
    const fx = serverFixture({
      args: ['--runtime.path', DOCS_DIR, '--logger.level', 'info'],
      requires: [{ path: path.join(DOCS_DIR, 'nakama_docs.lua'), hint: 'the snippet file is missing' }],
    });

    test('the before-authenticate-email hook adds a variable; the before-get-account hook reads ctx.vars', async () => {
      const client = fx.server.client();
      // The client sets vars, as in the documentation's client example; the hook adds its own.
      const session = await client.authenticateEmail(newEmail(), PASSWORD, true, undefined, { key: 'value' });
      assert.deepEqual(decodeJwt(session.token).payload.vrs, { key: 'value', key_added_in_lua: 'value_added_in_lua' });
      const account = await client.getAccount(session);
      assert.equal(account.user.id, session.user_id);
      // What the get-account hook read from context.vars is in the log line it writes.
      const line = /set by both the client and the before authentication hook: .*key_added_in_lua.*value_added_in_lua/;
      for (let i = 0; i < 40 && !line.test(fx.server.log); i++) await sleep(50);
      assert.match(fx.server.log, line, 'the get-account hook logs the session vars it read');
    });
  });
});

// ---------------------------------------------------------------------------------------------------
// The nkruntime declarations (runtime/nkruntime/index.d.ts).

const compatDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DECLARATIONS = path.resolve(compatDir, '..', 'runtime', 'nkruntime', 'index.d.ts');
const TSC = path.join(EXAMPLES_DIR, 'node_modules', 'typescript', 'bin', 'tsc');

describe('nkruntime declarations', () => {
  test('a module calling Nakama functions Latchkey does not serve fails to compile, naming them', async (t) => {
    assert.ok(existsSync(TSC), `no TypeScript compiler at ${TSC}: run \`cd examples && npm ci\``);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-nkruntime-'));
    t.after(() => fs.rm(dir, { recursive: true, force: true }));
    await fs.writeFile(path.join(dir, 'main.ts'), `
function InitModule(ctx: nkruntime.Context, logger: nkruntime.Logger, nk: nkruntime.Nakama, initializer: nkruntime.Initializer) {
    nk.storageRead([{collection: 'c', key: 'k', userId: ctx.userId}]);
    initializer.registerBeforeWriteStorageObjects(function (ctx: nkruntime.Context, logger: nkruntime.Logger, nk: nkruntime.Nakama, data: any) { return data; });
    nk.authenticateTokenGenerate(ctx.userId, ctx.username);
}
`);
    await fs.writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify({
      files: [DECLARATIONS, 'main.ts'],
      compilerOptions: { noEmit: true, strict: true, target: 'es5', lib: ['es5'], types: [] },
    }));
    const out = await new Promise((resolve) => {
      execFile(process.execPath, [TSC, '-p', dir], (err, stdout, stderr) => resolve({ code: err?.code ?? 0, text: stdout + stderr }));
    });
    assert.notEqual(out.code, 0, `tsc should fail:\n${out.text}`);
    assert.match(out.text, /Property 'storageRead' does not exist on type 'Nakama'/);
    assert.match(out.text, /Property 'registerBeforeWriteStorageObjects' does not exist on type 'Initializer'/);
    assert.equal(out.text.match(/error TS/g)?.length, 2, `only the two unserved calls are errors:\n${out.text}`);
  });
});
