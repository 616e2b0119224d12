// 12. The realtime socket (GET /ws) through the official client, in both wire formats: nakama-js's default
// JSON adapter and WebSocketAdapterPb from @heroiclabs/nakama-js-protobuf. Every test runs once per format.
// The server is latchkey-testserver (RT_BIN): latchkey with a test module whose RPCs (ctx, echo, fail,
// panic, disconnect, sockets, ban, events, blocked, rewrite) show what the server did.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import {
  CLOSE_WAIT_MS, FORMATS, RT_BIN, Session, b64url, decodeJwt, expectSocketError, newDeviceId, newUsername,
  openSocket, rawHandshake, rawSocket, serverFixture, sleep, startServer,
} from './harness.mjs';

/** A copy of a session, so refreshing one does not change the other. */
const copy = (s) => Session.restore(s.token, s.refresh_token);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The bound the server promises for closing the sockets of an ended session or a banned account. */
const REVOKE_CLOSE_MS = 1000;

/** Calls an RPC whose answer is JSON and returns it parsed. */
async function rpcJSON(rt, id, payload = '') {
  const res = await rt.rpc(id, typeof payload === 'string' ? payload : JSON.stringify(payload));
  try {
    return JSON.parse(res.payload);
  } catch {
    assert.fail(`RPC ${id}: the payload is not JSON: ${JSON.stringify(res)}`);
  }
}

/** The socket's own session id, as the server's runtime context sees it. */
const sessionIdOf = async (rt) => (await rpcJSON(rt, 'ctx')).session_id;

/** HS256 over the raw bytes of the key, as Nakama signs. */
const sign = (payload, key) => {
  const hp = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(payload)}`;
  return `${hp}.${createHmac('sha256', key).update(hp).digest('base64url')}`;
};

/** The token with one character in the middle of its signature changed. */
function tamperSignature(token) {
  const [h, p, s] = token.split('.');
  const i = Math.floor(s.length / 2);
  const c = s[i] === 'A' ? 'B' : 'A';
  return [h, p, s.slice(0, i) + c + s.slice(i + 1)].join('.');
}

/** Asserts a raw handshake was refused before the upgrade with `status` and the text/plain `body`. */
function assertRefused(res, status, body, what) {
  assert.equal(res.status, status, `${what}: HTTP status (body ${JSON.stringify(res.body)})`);
  assert.match(res.headers['content-type'] ?? '', /^text\/plain/, `${what}: Content-Type`);
  assert.equal(res.body.trim(), body, `${what}: body`);
}

// The session encryption key is ours, so that a test can sign a well-formed but expired token.
const SESSION_KEY = `session-key-${randomUUID()}`;

describe('realtime socket', () => {
  const fx = serverFixture({ bin: RT_BIN, args: ['--session.encryption_key', SESSION_KEY] });
  const login = (vars) => fx.server.client().authenticateDevice(newDeviceId(), true, newUsername(), vars);

  for (const format of FORMATS) {
    describe(format, () => {
      test('the runtime context of a socket RPC: the user, the vars, its own session id, lang, mode', async () => {
        const s = await login({ plan: 'gold' });
        const a = await openSocket(fx.server, s, format);
        const b = await openSocket(fx.server, s, format);
        const ctxA = await rpcJSON(a, 'ctx');
        const ctxB = await rpcJSON(b, 'ctx');
        const { payload } = decodeJwt(s.token);

        assert.equal(ctxA.user_id, s.user_id);
        assert.equal(ctxA.username, s.username);
        assert.deepEqual(ctxA.vars, { plan: 'gold' }, 'the session vars of the token');
        assert.equal(ctxA.execution_mode, 'rpc');
        assert.equal(ctxA.lang, 'en', 'nakama-js always sends lang=en');
        assert.equal(Number(ctxA.user_session_exp), payload.exp, 'the token expiry');
        assert.equal(ctxA.client_ip, '127.0.0.1');
        assert.equal(typeof ctxA.node, 'string');
        assert.ok(ctxA.node.length > 0, 'the node name');
        // As in Nakama, the session id of a socket call is the socket's own id, not the token's tid: two
        // sockets of one login are two sessions to server code.
        assert.match(ctxA.session_id, UUID);
        assert.match(ctxB.session_id, UUID);
        assert.notEqual(ctxA.session_id, payload.tid, 'not the token id');
        assert.notEqual(ctxA.session_id, ctxB.session_id, 'each socket has its own session id');
        assert.equal(await sessionIdOf(a), ctxA.session_id, 'and keeps it');
      });

      test('ctx.lang is the handshake lang parameter, "en" without one', async () => {
        const s = await login();
        // nakama-js always sends lang=en; the adapter's URL is edited to send another one, or none.
        const de = await openSocket(fx.server, s, format, { query: { lang: 'de' } });
        assert.equal((await rpcJSON(de, 'ctx')).lang, 'de');
        const none = await openSocket(fx.server, s, format, { query: { lang: null } });
        assert.equal((await rpcJSON(none, 'ctx')).lang, 'en');
      });

      test('rpc: echo returns the payload unchanged; ids are case-insensitive; the answer names the id as sent', async () => {
        const rt = await openSocket(fx.server, await login(), format);
        for (const payload of ['plain', '{"emoji":"🎲","n":1,"nested":{"a":[1,2,null]}}', ' spaces \n and "quotes" ', 'x'.repeat(3000)]) {
          const res = await rt.rpc('echo', payload);
          assert.equal(res.id, 'echo');
          assert.equal(res.payload, payload);
        }
        for (const id of ['ECHO', 'Echo']) {
          const res = await rt.rpc(id, 'case');
          assert.equal(res.payload, 'case', `id ${id}`);
          assert.equal(res.id, id, 'Nakama answers with the id the client sent');
        }
        // An empty payload: omitted from a JSON envelope (protojson leaves out empty fields), "" in protobuf.
        assert.equal((await rt.rpc('echo', '')).payload ?? '', '');
      });

      test('rpc errors: unknown id 6, empty id 3, a function error 7 with its message, a panic 7; the socket stays usable', async () => {
        const rt = await openSocket(fx.server, await login(), format);
        await expectSocketError(rt.rpc('no_such_rpc', '{}'), 6, 'RPC function not found');
        await expectSocketError(rt.rpc('', '{}'), 3, 'RPC ID must be set');
        const fail = await expectSocketError(rt.rpc('fail', ''), 7);
        assert.equal(fail.message, 'custom failure');
        const panic = await expectSocketError(rt.rpc('panic', ''), 7);
        assert.equal(panic.message, 'Internal server error.', 'a panic is not described to the client');
        assert.ok(rt.isOpen, 'the socket is still open after the panic');
        assert.equal((await rt.rpc('echo', 'after')).payload, 'after');
        assert.equal(rt.closeEvent, null);
      });

      test('realtime features Latchkey does not serve are refused with code 1, and the socket stays usable', async () => {
        const s = await login();
        const rt = await openSocket(fx.server, s, format);
        const calls = {
          joinChat: () => rt.socket.joinChat('lobby', 1, false, false),
          writeChatMessage: () => rt.socket.writeChatMessage('channel', { text: 'hi' }),
          createMatch: () => rt.socket.createMatch(),
          joinMatch: () => rt.socket.joinMatch(`${randomUUID()}.`),
          addMatchmaker: () => rt.socket.addMatchmaker('*', 2, 2),
          updateStatus: () => rt.socket.updateStatus('online'),
          followUsers: () => rt.socket.followUsers([s.user_id]),
          createParty: () => rt.socket.createParty(true, 4),
        };
        for (const [name, call] of Object.entries(calls)) {
          const err = await expectSocketError(call(), 1, 'Latchkey').catch((e) => {
            throw new Error(`socket.${name}: ${e.message}`);
          });
          assert.ok(err.message.length > 'Latchkey'.length, `${name}: a message that says what is missing`);
          assert.equal((await rt.rpc('echo', name)).payload, name, `an RPC after socket.${name}`);
        }
        assert.ok(rt.isOpen);
      });

      test('heartbeat: nakama-js pings, the server answers each pong, and the socket stays up', async () => {
        let pongs = 0;
        const rt = await openSocket(fx.server, await login(), format, {
          heartbeatMs: 150,
          // Count the answered pings: nakama-js's pingPong sends {ping: {}} and waits for the pong with
          // the same cid before it schedules the next one.
          beforeConnect: (socket) => {
            const send = socket.send.bind(socket);
            socket.send = (msg, ...rest) => {
              const p = send(msg, ...rest);
              if (msg.ping) p.then(() => { pongs++; }, () => {});
              return p;
            };
          },
        });
        await sleep(1000);
        assert.ok(pongs >= 4, `answered pings in 1 s at a 150 ms heartbeat: ${pongs}`);
        assert.equal(rt.heartbeatTimeouts, 0, 'no heartbeat timed out');
        assert.equal(rt.closeEvent, null, 'the socket did not close');
        assert.ok(rt.isOpen);
        assert.equal((await rt.rpc('echo', 'alive')).payload, 'alive');
      });

      test('raw: ping is answered by a pong with the same cid', async () => {
        const s = await login();
        const raw = await rawSocket(fx.server, s.token, format);
        raw.send({ cid: '42', ping: {} });
        const pong = await raw.next();
        assert.equal(pong.cid, '42', JSON.stringify(pong));
        assert.ok(pong.pong, `a pong: ${JSON.stringify(pong)}`);
        raw.send({ cid: 'abc-7', ping: {} });
        assert.equal((await raw.next()).cid, 'abc-7');
      });

      test('handshake: bad, expired, refresh, logged-out and banned tokens are 401 before the upgrade', async () => {
        const client = fx.server.client();
        const s = await login();
        const handshake = (token, extra = {}) => rawHandshake(fx.server, { lang: 'en', status: 'false', token, format, ...extra });
        const refused = (what, res) => assertRefused(res, 401, 'Missing or invalid token', what);

        const good = await handshake(s.token);
        assert.equal(good.status, 101, `a valid token upgrades: ${good.body}`);
        good.socket.close();

        refused('no token', await rawHandshake(fx.server, { lang: 'en', status: 'false', format }));
        refused('empty token', await handshake(''));
        refused('garbage', await handshake('garbage'));
        refused('tampered signature', await handshake(tamperSignature(s.token)));
        const { payload } = decodeJwt(s.token);
        refused('edited payload', await handshake([s.token.split('.')[0], b64url({ ...payload, exp: payload.exp + 86400 }),
          s.token.split('.')[2]].join('.')));
        // Signed with the server's key: the same claims upgrade, an expired exp does not.
        const resigned = await handshake(sign(payload, SESSION_KEY));
        assert.equal(resigned.status, 101, `the same claims signed by us: ${resigned.body}`);
        resigned.socket.close();
        refused('expired', await handshake(sign({ ...payload, exp: Math.floor(Date.now() / 1000) - 1 }, SESSION_KEY)));
        refused('refresh token', await handshake(s.refresh_token));

        const gone = await login();
        assert.equal(await client.sessionLogout(gone, gone.token, gone.refresh_token), true);
        refused('logged out', await handshake(gone.token));

        const banned = await login();
        const admin = await openSocket(fx.server, await login(), format);
        await admin.rpc('ban', JSON.stringify({ user_id: banned.user_id }));
        refused('banned account', await handshake(banned.token));
      });

      test('handshake: the token may come as an Authorization: Bearer header; other schemes are 401', async () => {
        const s = await login();
        const params = { lang: 'en', status: 'false', format };
        const bearer = await rawHandshake(fx.server, params, { Authorization: `Bearer ${s.token}` });
        assert.equal(bearer.status, 101, `Bearer header: ${bearer.body}`);
        bearer.socket.close();
        assertRefused(await rawHandshake(fx.server, params, { Authorization: `Basic ${Buffer.from('defaultkey:').toString('base64')}` }),
          401, 'Missing or invalid token', 'Basic');
        assertRefused(await rawHandshake(fx.server, params, { Authorization: s.token }),
          401, 'Missing or invalid token', 'no scheme');
        assertRefused(await rawHandshake(fx.server, params, { Authorization: 'Bearer garbage' }),
          401, 'Missing or invalid token', 'Bearer garbage');
      });

      test('handshake: an unknown format parameter is 400', async () => {
        const s = await login();
        const res = await rawHandshake(fx.server, { lang: 'en', status: 'false', token: s.token, format: 'xml' });
        assertRefused(res, 400, 'Invalid format parameter', 'format=xml');
      });

      test("nakama-js's connect rejects for a logged-out session", async () => {
        const client = fx.server.client();
        const s = await login();
        assert.equal(await client.sessionLogout(s, s.token, s.refresh_token), true);
        const err = await openSocket(fx.server, s, format).then(
          (rt) => assert.fail(`connected: ${JSON.stringify(rt.closeEvent)}`),
          (e) => e,
        );
        // nakama-js rejects with the WebSocket's error event; ws names the HTTP status in it.
        assert.match(String(err?.message ?? err), /401/, `the error event: ${String(err?.message ?? err)}`);
      });

      test('logout closes every socket of that session within 1 s, also one opened with a refreshed token; another session stays', async () => {
        const client = fx.server.client();
        const id = newDeviceId();
        const s1 = await client.authenticateDevice(id, true);
        const s2 = await client.authenticateDevice(id, true);
        const s1r = await client.sessionRefresh(copy(s1));
        const a = await openSocket(fx.server, s1, format);
        const aRefreshed = await openSocket(fx.server, s1r, format);
        const other = await openSocket(fx.server, s2, format);

        assert.equal(await client.sessionLogout(s1r, s1r.token, s1r.refresh_token), true);
        const t0 = performance.now();
        for (const [name, rt] of Object.entries({ a, aRefreshed })) {
          const closed = await rt.waitClosed(CLOSE_WAIT_MS, t0);
          assert.ok(closed.ms < REVOKE_CLOSE_MS, `${name}: closed ${Math.round(closed.ms)} ms after the logout (code ${closed.code})`);
        }
        await other.assertStaysOpen(300, 'a socket of another session of the same user');
      });

      test('DELETE /v2/account/sessions/{id} closes that session\'s socket within 1 s', async () => {
        const client = fx.server.client();
        const id = newDeviceId();
        const phone = await client.authenticateDevice(id, true);
        const tablet = await client.authenticateDevice(id, true);
        const phoneSocket = await openSocket(fx.server, phone, format);
        const tabletSocket = await openSocket(fx.server, tablet, format);

        const del = await fx.server.raw('DELETE', `/v2/account/sessions/${decodeJwt(phone.token).payload.tid}`, { bearer: tablet.token });
        assert.equal(del.status, 200, del.text);
        const closed = await phoneSocket.waitClosed(CLOSE_WAIT_MS, performance.now());
        assert.ok(closed.ms < REVOKE_CLOSE_MS, `closed ${Math.round(closed.ms)} ms after the DELETE`);
        await tabletSocket.assertStaysOpen(300, 'the caller\'s socket');
      });

      test('logout of every session (empty body) closes every socket of the user, and only of the user', async () => {
        const client = fx.server.client();
        const id = newDeviceId();
        const s1 = await client.authenticateDevice(id, true);
        const s2 = await client.authenticateDevice(id, true);
        const bystander = await openSocket(fx.server, await login(), format);
        const sockets = [await openSocket(fx.server, s1, format), await openSocket(fx.server, s2, format),
          await openSocket(fx.server, s2, format)];

        const res = await fx.server.raw('POST', '/v2/session/logout', { bearer: s1.token, body: {} });
        assert.equal(res.status, 200, res.text);
        const t0 = performance.now();
        for (const [i, rt] of sockets.entries()) {
          const closed = await rt.waitClosed(CLOSE_WAIT_MS, t0);
          assert.ok(closed.ms < REVOKE_CLOSE_MS, `socket ${i}: closed ${Math.round(closed.ms)} ms after the logout`);
        }
        await bystander.assertStaysOpen(300, 'another user\'s socket');
      });

      test('logout scope "others" closes the sockets of the other sessions, not the caller\'s', async () => {
        const client = fx.server.client();
        const id = newDeviceId();
        const keep = await client.authenticateDevice(id, true);
        const end = await client.authenticateDevice(id, true);
        const kept = await openSocket(fx.server, keep, format);
        const ended = await openSocket(fx.server, end, format);
        const res = await fx.server.raw('POST', '/v2/session/logout', { bearer: keep.token, body: { scope: 'others' } });
        assert.equal(res.status, 200, res.text);
        const closed = await ended.waitClosed(CLOSE_WAIT_MS, performance.now());
        assert.ok(closed.ms < REVOKE_CLOSE_MS, `closed ${Math.round(closed.ms)} ms after the logout`);
        await kept.assertStaysOpen(300, 'the caller\'s socket');
      });

      test('a ban closes every socket of the user within 1 s', async () => {
        const client = fx.server.client();
        const id = newDeviceId();
        const s1 = await client.authenticateDevice(id, true);
        const s2 = await client.authenticateDevice(id, true);
        const sockets = [await openSocket(fx.server, s1, format), await openSocket(fx.server, s2, format)];
        const admin = await openSocket(fx.server, await login(), format);

        await admin.rpc('ban', JSON.stringify({ user_id: s1.user_id }));
        const t0 = performance.now();
        for (const [i, rt] of sockets.entries()) {
          const closed = await rt.waitClosed(CLOSE_WAIT_MS, t0);
          assert.ok(closed.ms < REVOKE_CLOSE_MS, `socket ${i}: closed ${Math.round(closed.ms)} ms after the ban`);
        }
        await admin.assertStaysOpen(300, 'the caller (another user)');
      });

      test('rpc disconnect: server code closes another socket by session id, or the calling socket', async () => {
        const s = await login();
        const a = await openSocket(fx.server, s, format);
        const b = await openSocket(fx.server, s, format);
        const res = await b.rpc('disconnect', JSON.stringify({ session_id: await sessionIdOf(a) }));
        assert.deepEqual(JSON.parse(res.payload), {});
        await a.waitClosed();
        await b.assertStaysOpen(200, 'the caller');

        // Without a session id: the caller's own socket. Its answer may or may not beat the close.
        b.rpc('disconnect', '').catch(() => {});
        await b.waitClosed();
      });

      test('rpc sockets: SocketsList and the notifications stream list the user\'s open sockets', async () => {
        const client = fx.server.client();
        const id = newDeviceId();
        const s1 = await client.authenticateDevice(id, true, newUsername());
        const s2 = await client.authenticateDevice(id, true);
        const a = await openSocket(fx.server, s1, format);
        const b = await openSocket(fx.server, s2, format);
        const observer = await openSocket(fx.server, await login(), format);
        const ids = [await sessionIdOf(a), await sessionIdOf(b)].sort();

        const mine = await rpcJSON(a, 'sockets');
        const theirs = await rpcJSON(observer, 'sockets', { user_id: s1.user_id });
        for (const [who, list] of Object.entries({ mine, theirs })) {
          assert.deepEqual(list.sockets.map((x) => x.session_id).sort(), ids, `${who}: sockets ${JSON.stringify(list)}`);
          assert.deepEqual(list.stream.map((x) => x.session_id).sort(), ids, `${who}: stream ${JSON.stringify(list)}`);
          for (const x of list.sockets) {
            assert.equal(x.user_id, s1.user_id);
            assert.equal(typeof x.node, 'string');
          }
          for (const x of list.stream) {
            assert.equal(x.user_id, s1.user_id);
            assert.equal(x.username, s1.username);
          }
        }

        // A socket that closes leaves the lists (bounded wait: the server notices the close at once).
        b.close();
        const deadline = Date.now() + 2000;
        let after;
        do {
          after = await rpcJSON(observer, 'sockets', { user_id: s1.user_id });
          if (after.sockets.length === 1 && after.stream.length === 1) break;
          await sleep(50);
        } while (Date.now() < deadline);
        const aId = await sessionIdOf(a);
        assert.deepEqual(after.sockets.map((x) => x.session_id), [aId], `sockets after a close: ${JSON.stringify(after)}`);
        assert.deepEqual(after.stream.map((x) => x.session_id), [aId], `stream after a close: ${JSON.stringify(after)}`);
      });

      test('session events and hooks: session_start/session_end per socket, after-hook per rpc', async () => {
        const s = await login();
        const a = await openSocket(fx.server, s, format);
        const observer = await openSocket(fx.server, await login(), format);
        const aId = await sessionIdOf(a);
        await a.rpc('echo', 'hooked');
        a.close();

        // session_end fires when the server notices the close: poll briefly.
        const deadline = Date.now() + 2000;
        let mine;
        do {
          const { events } = await rpcJSON(observer, 'events');
          mine = events.filter((e) => e.session_id === aId);
          if (mine.some((e) => e.name === 'session_end')) break;
          await sleep(50);
        } while (Date.now() < deadline);
        const names = mine.map((e) => (e.name === 'after_rpc' ? `after_rpc:${e.id}` : e.name));
        assert.equal(names[0], 'session_start', `events of the socket: ${JSON.stringify(mine)}`);
        assert.equal(names.at(-1), 'session_end', `events of the socket: ${JSON.stringify(mine)}`);
        assert.ok(names.includes('after_rpc:echo'), `events of the socket: ${JSON.stringify(mine)}`);
        assert.ok(names.includes('after_rpc:ctx'));
        assert.equal(names.filter((n) => n === 'session_start').length, 1);
        assert.equal(names.filter((n) => n === 'session_end').length, 1);
        for (const e of mine) assert.equal(e.user_id, s.user_id, JSON.stringify(e));
      });

      test('the after-hook runs only for calls that succeeded (Nakama\'s rule for realtime after-hooks)', async () => {
        // Nakama's pipeline: "Unsuccessful operations do not trigger after hooks."
        const rt = await openSocket(fx.server, await login(), format);
        const rtId = await sessionIdOf(rt);
        await expectSocketError(rt.rpc('no_such_rpc', ''), 6);
        await expectSocketError(rt.rpc('fail', ''), 7);
        await expectSocketError(rt.rpc('panic', ''), 7);
        await rt.rpc('echo', 'ok');
        const { events } = await rpcJSON(rt, 'events');
        const ids = events.filter((e) => e.session_id === rtId && e.name === 'after_rpc').map((e) => e.id);
        assert.deepEqual(ids, ['ctx', 'echo'], `after_rpc entries of the socket: ${JSON.stringify(ids)}`);
      });

      test('a before-hook refuses an RPC (the function does not run) or rewrites its payload', async () => {
        const rt = await openSocket(fx.server, await login(), format);
        const rtId = await sessionIdOf(rt);
        let err;
        try {
          await rt.rpc('blocked', 'x');
        } catch (e) {
          err = e;
        }
        assert.ok(err && typeof err === 'object', `the refused RPC rejects with an error envelope: ${JSON.stringify(err)}`);
        assert.equal(typeof err.code, 'number', JSON.stringify(err));
        assert.equal(typeof err.message, 'string', JSON.stringify(err));
        const { events } = await rpcJSON(rt, 'events');
        assert.ok(!events.some((e) => e.session_id === rtId && e.id === 'blocked'),
          `no after-hook for the refused call: ${JSON.stringify(events.filter((e) => e.session_id === rtId))}`);

        const res = await rt.rpc('rewrite', 'abc');
        assert.equal(res.payload, 'rewritten:abc');
        assert.ok(rt.isOpen);
      });

      test('a message over socket.max_message_size_bytes (4096) closes the socket with 1009', async () => {
        const rt = await openSocket(fx.server, await login(), format);
        // An envelope just under the limit goes through.
        assert.equal((await rt.rpc('echo', 'y'.repeat(3900))).payload.length, 3900);
        rt.rpc('echo', 'z'.repeat(5000)).catch(() => {});
        const closed = await rt.waitClosed();
        assert.equal(closed.code, 1009, `close code (reason ${JSON.stringify(closed.reason)})`);
      });

      test('raw: an oversize frame closes the socket with 1009', async () => {
        const raw = await rawSocket(fx.server, (await login()).token, format);
        raw.send({ cid: '1', rpc: { id: 'echo', payload: 'q'.repeat(5000) } });
        const closed = await raw.waitClosed();
        assert.equal(closed.code, 1009, `close code (reason ${JSON.stringify(closed.reason)})`);
      });

      if (format === 'json') {
        // Frames the JSON client cannot produce; the protobuf counterparts (garbage bytes, text frames) are
        // not specified.
        test('raw: a malformed JSON frame is answered with an error envelope (code 1, no cid; the cid when it can be read); the socket stays open', async () => {
          const raw = await rawSocket(fx.server, (await login()).token, 'json');
          for (const bad of ['not json', '{"cid":"1","rpc":', '[1,2]']) {
            raw.send(bad);
            const msg = await raw.next();
            assert.equal(msg?.error?.code, 1, `answer to ${JSON.stringify(bad)}: ${JSON.stringify(msg)}`);
            assert.equal(typeof msg.error.message, 'string');
            assert.equal(msg.cid, undefined, `no cid: ${JSON.stringify(msg)}`);
          }
          // A message type this server does not know (a newer client) still gets its request answered.
          raw.send('{"cid":"7","future_message":{"x":1}}');
          const unknown = await raw.next();
          assert.equal(unknown?.cid, '7', `answer: ${JSON.stringify(unknown)}`);
          assert.equal(unknown.error?.code, 1);
          raw.send({ cid: '9', ping: {} });
          assert.equal((await raw.next()).cid, '9', 'the socket still answers');
          assert.equal(raw.closeEvent, null);
        });

        test('raw: a binary frame on a JSON socket is answered with an error envelope (code 3); the socket stays open', async () => {
          const raw = await rawSocket(fx.server, (await login()).token, 'json');
          raw.send(Buffer.from('{"cid":"1","ping":{}}'), { binary: true });
          const msg = await raw.next();
          assert.equal(msg?.error?.code, 3, `answer: ${JSON.stringify(msg)}`);
          assert.equal(typeof msg.error.message, 'string');
          raw.send({ cid: '2', ping: {} });
          assert.equal((await raw.next()).cid, '2', 'the socket still answers');
        });
      }
    });
  }
});

describe('socket.close_on_revoke false (Nakama\'s behaviour)', () => {
  const fx = serverFixture({ bin: RT_BIN, args: ['--socket.close_on_revoke', 'false'] });

  for (const format of FORMATS) {
    test(`${format}: a logout leaves the socket open; a ban still closes it`, async () => {
      const client = fx.server.client();
      const s = await client.authenticateDevice(newDeviceId(), true);
      const rt = await openSocket(fx.server, s, format);
      assert.equal(await client.sessionLogout(s, s.token, s.refresh_token), true);
      await rt.assertStaysOpen(1200, 'after the logout');

      const admin = await openSocket(fx.server, await client.authenticateDevice(newDeviceId(), true), format);
      await admin.rpc('ban', JSON.stringify({ user_id: s.user_id }));
      const closed = await rt.waitClosed(CLOSE_WAIT_MS, performance.now());
      assert.ok(closed.ms < REVOKE_CLOSE_MS, `closed ${Math.round(closed.ms)} ms after the ban`);
    });
  }
});

describe('session.single_socket', () => {
  const fx = serverFixture({ bin: RT_BIN, args: ['--session.single_socket', 'true'] });

  for (const format of FORMATS) {
    test(`${format}: a new socket of the user closes the older ones, which are told first (single_socket, -7)`, async () => {
      const client = fx.server.client();
      const id = newDeviceId();
      const s1 = await client.authenticateDevice(id, true);
      const s2 = await client.authenticateDevice(id, true);
      const bystander = await openSocket(fx.server, await client.authenticateDevice(newDeviceId(), true), format);
      const older = await openSocket(fx.server, s1, format);
      const newer = await openSocket(fx.server, s2, format);

      const closed = await older.waitClosed();
      const note = older.notifications.find((n) => n.subject === 'single_socket');
      assert.ok(note, `the older socket got a single_socket notification before the close: ${JSON.stringify(older.notifications)} (close ${JSON.stringify(closed)})`);
      assert.equal(note.code, -7);
      await newer.assertStaysOpen(300, 'the new socket');
      await bystander.assertStaysOpen(0, 'another user\'s socket');

      // The same holds for a second socket of the same session.
      const newest = await openSocket(fx.server, s2, format);
      await newer.waitClosed();
      assert.ok(newer.notifications.some((n) => n.subject === 'single_socket' && n.code === -7));
      await newest.assertStaysOpen(200, 'the newest socket');
    });
  }
});

describe('token expiry', () => {
  const fx = serverFixture({ bin: RT_BIN, args: ['--session.token_expiry_sec', '2'] });

  for (const format of FORMATS) {
    test(`${format}: an open socket outlives its token; a new socket with the expired token is refused`, async () => {
      const s = await fx.server.client().authenticateDevice(newDeviceId(), true);
      const rt = await openSocket(fx.server, s, format);
      const exp = decodeJwt(s.token).payload.exp;
      // Wait until the token has expired (at most ~2.5 s: exp is at most 2 s ahead).
      await sleep(Math.max(0, exp * 1000 - Date.now()) + 500);
      assert.ok(Date.now() / 1000 > exp, 'the token has expired');
      assert.equal((await rt.rpc('echo', 'expired-but-open')).payload, 'expired-but-open');
      assert.equal(rt.closeEvent, null);
      const res = await rawHandshake(fx.server, { lang: 'en', status: 'false', token: s.token, format });
      assertRefused(res, 401, 'Missing or invalid token', 'expired token');
    });
  }
});

describe('graceful shutdown', () => {
  for (const format of FORMATS) {
    test(`${format}: SIGTERM sends every socket a close frame with 1001 (going away) before the process exits`, async (t) => {
      const server = await startServer({ t, bin: RT_BIN });
      const client = server.client();
      const id = newDeviceId();
      const sockets = [
        await openSocket(server, await client.authenticateDevice(id, true), format),
        await openSocket(server, await client.authenticateDevice(id, true), format),
        await openSocket(server, await client.authenticateDevice(newDeviceId(), true), format),
      ];
      const exit = await server.stop();
      assert.equal(exit.code, 0, `exit code after SIGTERM (signal ${exit.signal})`);
      for (const [i, rt] of sockets.entries()) {
        // Without a close frame the client would see 1006 (abnormal closure) once the process is gone.
        const closed = await rt.waitClosed(2000);
        assert.equal(closed.code, 1001, `socket ${i}: close code (reason ${JSON.stringify(closed.reason)})`);
      }
    });
  }
});
