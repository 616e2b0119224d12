// 16. Join tickets: minted through nakama-js (an RPC of the test server calling TicketMint, and
// POST /v2/session/ticket with the session token nakama-js holds) and checked by `latchkey verifier`, the Go
// package verify as a sidecar, in a process of its own that knows only the node's URL and a verifier key.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BIN, CLIENT_TIMEOUT_MS, RT_BIN, decodeJwt, expectError, freePort, newDeviceId, serverFixture, sleep,
} from './harness.mjs';

const AUDIENCE = 'match-1';
const VERIFIER_KEY = randomBytes(16).toString('hex'); // 32 characters; tickets.verifier_keys wants 16 or more
const VERIFIER_START_MS = 15000;
const VERIFIER_STOP_MS = 10000;
// How long a logout may take to reach the verifier (the "within a second").
const REVOKE_WITHIN_MS = 1000;
const POLL_MS = 20;

let liveVerifier = null; // its process, killed if the test process exits abnormally
process.on('exit', () => liveVerifier?.kill('SIGKILL'));

/**
 * Starts a `latchkey verifier` following the node at latchkeyURL for AUDIENCE and waits (bounded) for its
 * GET /healthz to answer 200. The key goes by --verifier-key (the e2e test passes it in the environment), so
 * the log check of the suite's after-hook also covers the flag. Returns {url, log(), verify(ticket), stop()}.
 */
async function startVerifier(latchkeyURL) {
  const url = `http://127.0.0.1:${await freePort()}`;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LATCHKEY_')));
  const child = spawn(BIN, ['verifier', '--latchkey', latchkeyURL, '--audience', AUDIENCE,
    '--verifier-key', VERIFIER_KEY, '--listen', url.slice('http://'.length)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  liveVerifier = child;
  let log = '';
  for (const stream of [child.stdout, child.stderr]) stream.setEncoding('utf8').on('data', (d) => { log += d; });
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.on('error', (error) => resolve((exitInfo = { error })));
    child.on('exit', (code, signal) => resolve((exitInfo = { code, signal })));
  });
  const v = {
    url,
    log: () => log,
    dumpLog: (reason) => console.error(`----- latchkey verifier log ${reason} -----\n${log.trimEnd() || '(no output)'}\n----- end of verifier log -----`),
    /** POST /verify {ticket}: the parsed answer, which must be a 200. */
    async verify(ticket) {
      const res = await fetch(`${url}/verify`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ticket }),
        signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
      });
      const text = await res.text();
      assert.equal(res.status, 200, `POST /verify: ${text}`);
      return JSON.parse(text);
    },
    /** SIGTERM, then a bounded wait for the exit (SIGKILL and an error after it). */
    async stop() {
      if (!exitInfo) child.kill('SIGTERM');
      const timeout = new Promise((resolve) => setTimeout(resolve, VERIFIER_STOP_MS, 'timeout').unref());
      if (await Promise.race([exited, timeout]) === 'timeout') {
        child.kill('SIGKILL');
        await exited;
        v.dumpLog('(did not stop on SIGTERM)');
        throw new Error(`latchkey verifier did not exit within ${VERIFIER_STOP_MS} ms of SIGTERM`);
      }
      liveVerifier = null;
    },
  };
  let last = 'no answer yet';
  for (const deadline = Date.now() + VERIFIER_START_MS; Date.now() < deadline && !exitInfo; await sleep(50)) {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return v;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err?.cause?.code ?? err?.message ?? String(err);
    }
  }
  const why = exitInfo ? `exited during start (${JSON.stringify(exitInfo)})`
    : `did not answer GET /healthz with 200 within ${VERIFIER_START_MS} ms (last: ${last})`;
  await v.stop().catch(() => {});
  v.dumpLog('(start failed)');
  throw new Error(`latchkey verifier ${why}`);
}

/** Mints a ticket through the test server's mint_ticket RPC (runtime TicketMint): {ticket, id, expires_at}. */
async function rpcMint(client, session, input) {
  return (await client.rpc(session, 'mint_ticket', input)).payload; // nakama-js parses the JSON payload
}

/**
 * Mints a ticket with POST /v2/session/ticket and the session token nakama-js holds, as a nakama-js game
 * would: nakama-js 2.8.0 has no call for this Latchkey route, so the request is a plain fetch (the
 * harness's raw()). Returns {status, json, text}.
 */
function httpMint(server, session, body) {
  return server.raw('POST', '/v2/session/ticket', { body, bearer: session.token });
}

describe('join tickets checked by latchkey verifier in another process', () => {
  const fx = serverFixture({ bin: RT_BIN, args: ['--tickets.verifier_keys', VERIFIER_KEY] });
  const vx = { verifier: null };

  before(async () => {
    vx.verifier = await startVerifier(fx.server.url);
  });
  afterEach((t) => {
    if (t.passed === false) vx.verifier?.dumpLog(`(test "${t.name}" failed)`);
  });
  after(async () => {
    const v = vx.verifier;
    if (!v) return;
    await v.stop();
    assert.ok(!v.log().includes(VERIFIER_KEY), 'the verifier log must not hold the verifier key');
    assert.doesNotMatch(v.log(), /eyJ[\w-]+\.[\w-]+\.[\w-]+/, 'the verifier log must not hold a ticket');
  });

  /** A new device account's session, and what the server says about it (the ctx RPC). */
  async function login(client) {
    const session = await client.authenticateDevice(newDeviceId(), true);
    const ctx = (await client.rpc(session, 'ctx', {})).payload;
    assert.equal(ctx.user_id, session.user_id);
    assert.equal(ctx.session_id, decodeJwt(session.token).payload.tid, 'the RPC sees the session of the token');
    return { session, sessionID: ctx.session_id };
  }

  function assertAdmits(answer, session, sessionID, minted) {
    assert.deepEqual(
      { valid: answer.valid, user_id: answer.user_id, username: answer.username, session_id: answer.session_id, expires_at: answer.expires_at },
      { valid: true, user_id: session.user_id, username: session.username, session_id: sessionID, expires_at: minted.expires_at },
      `verifier answer ${JSON.stringify(answer)}`,
    );
  }

  test('a ticket minted by RPC is valid once, then replayed', async () => {
    const client = fx.server.client();
    const { session, sessionID } = await login(client);
    const minted = await rpcMint(client, session, { audience: AUDIENCE, ttl_sec: 60 });
    assert.equal(typeof minted.ticket, 'string');
    const claims = decodeJwt(minted.ticket).payload;
    assert.equal(claims.aud, AUDIENCE);
    assert.equal(claims.jti, minted.id);
    assert.equal(claims.exp, minted.expires_at);
    assert.ok(Math.abs(minted.expires_at - Date.now() / 1000 - 60) <= 5, `ttl_sec 60: expires_at ${minted.expires_at}`);

    assertAdmits(await vx.verifier.verify(minted.ticket), session, sessionID, minted);
    assert.deepEqual(await vx.verifier.verify(minted.ticket), { valid: false, reason: 'replayed' });
  });

  test('a ticket minted with POST /v2/session/ticket is valid once, then replayed', async () => {
    const client = fx.server.client();
    const { session, sessionID } = await login(client);
    const res = await httpMint(fx.server, session, { audience: AUDIENCE });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.json).sort(), ['expires_at', 'id', 'ticket']);

    assertAdmits(await vx.verifier.verify(res.json.ticket), session, sessionID, res.json);
    assert.deepEqual(await vx.verifier.verify(res.json.ticket), { valid: false, reason: 'replayed' });
  });

  test('a ticket for another audience is refused, by either way of minting', async () => {
    const client = fx.server.client();
    const { session } = await login(client);
    const byRPC = await rpcMint(client, session, { audience: 'match-2' });
    assert.deepEqual(await vx.verifier.verify(byRPC.ticket), { valid: false, reason: 'audience' });
    const byHTTP = await httpMint(fx.server, session, { audience: 'match-2' });
    assert.equal(byHTTP.status, 200, byHTTP.text);
    assert.deepEqual(await vx.verifier.verify(byHTTP.json.ticket), { valid: false, reason: 'audience' });
  });

  test('a bad mint_ticket payload is the RPC caller\'s error', async () => {
    const client = fx.server.client();
    const { session } = await login(client);
    await expectError(client.rpc(session, 'mint_ticket', { audience: '' }), 400, 3, 'audience');
    await expectError(client.rpc(session, 'mint_ticket', { audience: AUDIENCE, ttl_sec: 100000 }), 400, 3, 'ttl');
  });

  test('a nakama-js logout reaches the verifier within a second: tickets minted before it are revoked', async (t) => {
    const client = fx.server.client();
    const { session, sessionID } = await login(client);
    const bystander = await login(client); // another account's session: a logout must not touch it
    // One fresh ticket per poll (a ticket the verifier admitted is used up, so it could not show the
    // revocation), enough for every poll within the deadline and a margin.
    const count = Math.ceil(REVOKE_WITHIN_MS / POLL_MS) + 10;
    const tickets = [];
    for (let i = 0; i < count; i++) {
      tickets.push(i % 10 === 0
        ? (await httpMint(fx.server, session, { audience: AUDIENCE, ttl_sec: 60 })).json
        : await rpcMint(client, session, { audience: AUDIENCE, ttl_sec: 60 }));
    }
    for (const tk of tickets) assert.equal(typeof tk?.ticket, 'string', 'every ticket was minted');
    const bystanderTicket = await rpcMint(client, bystander.session, { audience: AUDIENCE });

    // The session's tickets are admitted before the logout.
    const first = tickets.shift();
    assertAdmits(await vx.verifier.verify(first.ticket), session, sessionID, first);

    assert.equal(await client.sessionLogout(session, session.token, session.refresh_token), true);
    const loggedOut = performance.now();
    let answer;
    let elapsed;
    let polls = 0;
    while (tickets.length > 0) {
      answer = await vx.verifier.verify(tickets.shift().ticket);
      polls++;
      elapsed = performance.now() - loggedOut;
      if (!answer.valid || elapsed > REVOKE_WITHIN_MS) break;
      await sleep(POLL_MS);
    }
    t.diagnostic(`the verifier refused the session's tickets ${Math.round(elapsed)} ms after the logout answered (${polls} polls)`);
    assert.deepEqual(answer, { valid: false, reason: 'revoked' }, `after ${Math.round(elapsed)} ms and ${polls} polls`);
    assert.ok(elapsed <= REVOKE_WITHIN_MS, `revoked after ${Math.round(elapsed)} ms, more than ${REVOKE_WITHIN_MS} ms`);

    // Every later ticket of the session stays refused; the other account's ticket is still good.
    assert.deepEqual(await vx.verifier.verify(tickets.pop().ticket), { valid: false, reason: 'revoked' });
    assertAdmits(await vx.verifier.verify(bystanderTicket.ticket), bystander.session, bystander.sessionID, bystanderTicket);

    // And the logged-out session can mint no more, either way.
    await expectError(client.rpc(session, 'mint_ticket', { audience: AUDIENCE }), 401, 16);
    const late = await httpMint(fx.server, session, { audience: AUDIENCE });
    assert.equal(late.status, 401, late.text);
    assert.equal(late.json?.code, 16, late.text);
  });
});
