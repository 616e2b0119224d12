// The official nakama-js client against a Latchkey serving HTTPS and WSS (socket.ssl_certificate): device
// authentication, getAccount and sessionRefresh over https, then a realtime socket over wss that answers a
// ping. Run by internal/e2e (TestTLSNakamaJS), which starts the server with a certificate made in the test
// and points Node at its CA:
//
//   NODE_EXTRA_CA_CERTS=ca.pem LATCHKEY_PORT=7350 node compat/tls/smoke.mjs
//
// LATCHKEY_HOST (default localhost) must be a name the certificate holds; LATCHKEY_SERVER_KEY defaults to
// defaultkey. Prints one line per step and exits non-zero on the first failure.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Client } from '@heroiclabs/nakama-js';
import { WebSocket } from 'ws';

// nakama-js opens sockets with the global WebSocket, which Node 20 lacks; the compat suite installs ws's
// the same way (see test/harness.mjs).
globalThis.WebSocket = WebSocket;

const host = process.env.LATCHKEY_HOST || 'localhost';
const port = process.env.LATCHKEY_PORT;
const serverKey = process.env.LATCHKEY_SERVER_KEY || 'defaultkey';
const TIMEOUT_MS = 10_000;

async function main() {
  assert.ok(port, 'LATCHKEY_PORT is not set');
  const client = new Client(serverKey, host, port, true, TIMEOUT_MS, false);

  const session = await client.authenticateDevice(randomUUID(), true);
  assert.ok(session.token && session.refresh_token, 'authenticateDevice returns both tokens');
  console.log(`authenticateDevice over https://${host}:${port}: user ${session.user_id}`);

  const account = await client.getAccount(session);
  assert.equal(account.user.id, session.user_id, 'getAccount returns the same user');
  console.log('getAccount: ok');

  const refreshed = await client.sessionRefresh(session);
  assert.equal(refreshed.user_id, session.user_id, 'sessionRefresh keeps the user');
  assert.ok(refreshed.token, 'sessionRefresh returns a token');
  console.log('sessionRefresh: ok');

  const socket = client.createSocket(true, false);
  await socket.connect(refreshed, false, TIMEOUT_MS);
  const pong = await socket.send({ ping: {} }, TIMEOUT_MS);
  assert.ok(pong && pong.pong, `the socket answers a ping with a pong, got ${JSON.stringify(pong)}`);
  socket.disconnect(false);
  console.log(`socket over wss://${host}:${port}/ws: connected, ping answered, disconnected`);
}

main().then(
  () => process.exit(0), // nakama-js leaves timers running (request timeouts, the socket's heartbeat)
  (err) => {
    // nakama-js rejects with the fetch Response on an HTTP error, or with an event or a string.
    const what = err instanceof Error ? err.stack
      : err && typeof err.status === 'number' ? `HTTP ${err.status} ${err.statusText}`
      : err && err.message ? err.message : String(err);
    console.error(`nakama-js over TLS failed: ${what}`);
    process.exit(1);
  },
);
