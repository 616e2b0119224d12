// 10. Input the official client cannot send, through raw fetch.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import {
  assertRawError, b64url, decodeJwt, newDeviceId, serverFixture,
} from './harness.mjs';

const DEVICE = '/v2/account/authenticate/device';
const KEY = 'defaultkey';

/** The token with one character in the middle of its signature changed. */
function tamperSignature(token) {
  const [h, p, s] = token.split('.');
  const i = Math.floor(s.length / 2); // not the last character, whose low bits may be padding
  const c = s[i] === 'A' ? 'B' : 'A';
  return [h, p, s.slice(0, i) + c + s.slice(i + 1)].join('.');
}

describe('raw HTTP input', () => {
  const fx = serverFixture();
  const auth = (body, query = '') => fx.server.raw('POST', DEVICE + query, { basic: KEY, body });
  const login = async () => {
    const res = await auth({ id: newDeviceId() });
    assert.equal(res.status, 200, res.text);
    return res.json;
  };

  test('malformed JSON is 400, code 3', async () => {
    assertRawError(await auth('{"id": "abc'), 400, 3);
    assertRawError(await auth('{"id": }'), 400, 3);
    assertRawError(await auth('not json at all'), 400, 3);
    assertRawError(await auth('[]'), 400, 3);
  });

  test('a number where a string belongs is 400, code 3', async () => {
    assertRawError(await auth('{"id": 123}'), 400, 3);
    assertRawError(await auth({ id: newDeviceId(), vars: { n: 1 } }), 400, 3);
  });

  test('a body over 262144 bytes is refused with a JSON error', async () => {
    const id = newDeviceId();
    const prefix = `{"id":"${id}","vars":{"pad":"`;
    const suffix = '"}}';
    const body = prefix + 'x'.repeat(262144 + 1024 - prefix.length - suffix.length) + suffix;
    assert.equal(Buffer.byteLength(body), 262144 + 1024);
    const res = await auth(body);
    assert.ok(res.status === 400 || res.status === 413, `status ${res.status}, body ${res.text.slice(0, 200)}`);
    assertRawError(res, res.status, res.status === 400 ? 3 : undefined);
    // Nothing was created.
    assertRawError(await auth({ id }, '?create=false'), 404, 5);
  });

  test('unknown JSON fields are ignored; create in the body is not the query parameter', async () => {
    const id = newDeviceId();
    const res = await auth({ id, unknown: 1, nested: { a: [1, 2, null] }, create: false });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.json.created, true, 'create defaults to true; a create key in the body is ignored');
    assert.ok(res.json.token && res.json.refresh_token);

    // A login omits created (zero values are not sent), as protojson does.
    const again = await auth({ id });
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(Object.keys(again.json).sort(), ['refresh_token', 'token']);
  });

  test('query parameters: create=false and username', async () => {
    const id = newDeviceId();
    assertRawError(await auth({ id }, '?create=false'), 404, 5, 'User account not found.');
    const username = `raw_${id.slice(-12)}`;
    const res = await auth({ id }, `?create=true&username=${encodeURIComponent(username)}`);
    assert.equal(res.status, 200, res.text);
    assert.equal(decodeJwt(res.json.token).payload.usn, username);
  });

  test('an empty body is 400, code 3 (device id required)', async () => {
    assertRawError(await auth(''), 400, 3, 'Device ID is required.');
    assertRawError(await auth({}), 400, 3, 'Device ID is required.');
  });

  test('snake_case and lowerCamelCase field names are both accepted', async () => {
    const s = await login();
    const res = await fx.server.raw('POST', '/v2/session/logout', { bearer: s.token, body: { refreshToken: s.refresh_token } });
    assert.equal(res.status, 200, res.text);
    const refresh = await fx.server.raw('POST', '/v2/account/session/refresh', { basic: KEY, body: { token: s.refresh_token } });
    assertRawError(refresh, 401, 16, 'Refresh token invalid or expired.');
  });

  test('GET on an authentication route is 501, code 12', async () => {
    assertRawError(await fx.server.raw('GET', DEVICE, { basic: KEY }), 501, 12, 'Method Not Allowed');
    assertRawError(await fx.server.raw('DELETE', '/v2/account/session/refresh', { basic: KEY }), 501, 12);
  });

  test('an unknown path is 404, code 5', async () => {
    assertRawError(await fx.server.raw('GET', '/v2/no/such/route'), 404, 5, 'Not Found');
    assertRawError(await fx.server.raw('POST', '/v2/account/authenticate/nosuch', { basic: KEY, body: {} }), 404, 5);
  });

  test('server key problems are 401, code 16', async () => {
    assertRawError(await fx.server.raw('POST', DEVICE, { body: { id: newDeviceId() } }), 401, 16, 'Server key required');
    const wrong = await fx.server.raw('POST', DEVICE, { basic: 'nope', body: { id: newDeviceId() } });
    assertRawError(wrong, 401, 16, 'Server key invalid');
    assert.ok(wrong.headers.get('www-authenticate'), 'a 401 carries WWW-Authenticate');
    const s = await login();
    assertRawError(await fx.server.raw('POST', DEVICE, { bearer: s.token, body: { id: newDeviceId() } }), 401, 16, 'Server key invalid');
  });

  test('a tampered session token is 401, code 16', async () => {
    const s = await login();
    const ok = await fx.server.raw('GET', '/v2/account', { bearer: s.token });
    assert.equal(ok.status, 200, ok.text);
    assertRawError(await fx.server.raw('GET', '/v2/account', { bearer: tamperSignature(s.token) }), 401, 16, 'Auth token invalid');

    // A payload edit under the original signature.
    const [h, , sig] = s.token.split('.');
    const { payload } = decodeJwt(s.token);
    const edited = [h, b64url({ ...payload, exp: payload.exp + 86400 }), sig].join('.');
    assertRawError(await fx.server.raw('GET', '/v2/account', { bearer: edited }), 401, 16, 'Auth token invalid');
  });

  test('a token with alg "none" is 401', async () => {
    const s = await login();
    const [, p, sig] = s.token.split('.');
    for (const header of [{ alg: 'none', typ: 'JWT' }, { alg: 'None', typ: 'JWT' }, { alg: 'HS512', typ: 'JWT' }]) {
      for (const signature of ['', sig]) {
        const forged = [b64url(header), p, signature].join('.');
        assertRawError(await fx.server.raw('GET', '/v2/account', { bearer: forged }), 401, 16, 'Auth token invalid');
      }
    }
  });

  test('bearer problems: missing, refresh token, Basic credentials, garbage', async () => {
    const s = await login();
    assertRawError(await fx.server.raw('GET', '/v2/account'), 401, 16, 'Auth token required');
    assertRawError(await fx.server.raw('GET', '/v2/account', { bearer: s.refresh_token }), 401, 16, 'Auth token invalid');
    assertRawError(await fx.server.raw('GET', '/v2/account', { basic: KEY }), 401, 16, 'Auth token invalid');
    assertRawError(await fx.server.raw('GET', '/v2/account', { bearer: 'garbage' }), 401, 16, 'Auth token invalid');
    assertRawError(await fx.server.raw('GET', '/v2/account', { bearer: '' }), 401, 16);
  });

  test('healthcheck is 200 {} without credentials', async () => {
    const res = await fx.server.raw('GET', '/healthcheck');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, {});
  });
});

describe('token signing keys', () => {
  const SESSION_KEY = `session-key-${randomUUID()}`;
  const REFRESH_KEY = `refresh-key-${randomUUID()}`;
  const fx = serverFixture({
    args: ['--session.encryption_key', SESSION_KEY, '--session.refresh_encryption_key', REFRESH_KEY],
  });

  /** HS256 over the raw bytes of the key, as Nakama signs. */
  const sign = (payload, key) => {
    const hp = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(payload)}`;
    return `${hp}.${createHmac('sha256', key).update(hp).digest('base64url')}`;
  };
  const getAccount = (token) => fx.server.raw('GET', '/v2/account', { bearer: token });

  test('tokens are HS256 over the configured keys; the default keys are not accepted', async () => {
    const res = await fx.server.raw('POST', DEVICE, { basic: KEY, body: { id: newDeviceId() } });
    assert.equal(res.status, 200, res.text);
    const { payload } = decodeJwt(res.json.token);
    const { payload: rpayload } = decodeJwt(res.json.refresh_token);

    assert.equal((await getAccount(sign(payload, SESSION_KEY))).status, 200, 'same claims, signed by us with the session key');
    assertRawError(await getAccount(sign(payload, 'defaultencryptionkey')), 401, 16, 'Auth token invalid');
    assertRawError(await getAccount(sign(payload, REFRESH_KEY)), 401, 16, 'Auth token invalid');

    const refresh = (token) => fx.server.raw('POST', '/v2/account/session/refresh', { basic: KEY, body: { token } });
    assert.equal((await refresh(sign(rpayload, REFRESH_KEY))).status, 200, 'refresh token signed with the refresh key');
    assertRawError(await refresh(sign(rpayload, SESSION_KEY)), 401, 16, 'Refresh token invalid or expired.');
    assertRawError(await refresh(sign(rpayload, 'defaultrefreshencryptionkey')), 401, 16, 'Refresh token invalid or expired.');
  });

  test('well-signed tokens with bad claims are 401', async () => {
    const res = await fx.server.raw('POST', DEVICE, { basic: KEY, body: { id: newDeviceId() } });
    const { payload } = decodeJwt(res.json.token);
    const now = Math.floor(Date.now() / 1000);
    const { tid, ...noTid } = payload;
    const { exp, ...noExp } = payload;
    assert.ok(tid && exp);
    const cases = {
      'no tid': noTid,
      'no exp': noExp,
      'uid not a UUID': { ...payload, uid: 'not-a-uuid' },
      'expired a second ago': { ...payload, exp: now - 1 },
      'exp is now (expired from its exp second on)': { ...payload, exp: now },
      'exp as a string': { ...payload, exp: String(payload.exp) },
    };
    for (const [name, claims] of Object.entries(cases)) {
      const r = await getAccount(sign(claims, SESSION_KEY));
      assert.equal(r.status, 401, `${name}: ${r.text}`);
      assert.equal(r.json?.code, 16, `${name}: ${r.text}`);
    }
  });
});
