// 13. Realtime sockets across a two-node cluster on one store (clusterFixture: one PostgreSQL database, in
// the SQLite run too, since SQLite serves one node), through the official client in both wire formats. Whatever ends a session or an
// account on one node closes the sockets on the other within 1 s; server code on one node sees and
// disconnects sockets on the other; session.single_socket holds across nodes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLOSE_WAIT_MS, FORMATS, clusterFixture, decodeJwt, newDeviceId, newUsername, nodeName, openSocket,
} from './harness.mjs';

/** The bound the server promises for closing, on every node, the sockets of an ended session or account. */
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

/**
 * Waits for rt to close and asserts it did within REVOKE_CLOSE_MS of t0 (a performance.now() value). The
 * measured time is reported as a test diagnostic.
 */
async function assertClosedWithin(t, rt, t0, what) {
  const closed = await rt.waitClosed(CLOSE_WAIT_MS, t0);
  t.diagnostic(`${what}: closed after ${Math.round(closed.ms)} ms`);
  assert.ok(closed.ms < REVOKE_CLOSE_MS,
    `${what}: the socket on the other node closed ${Math.round(closed.ms)} ms later (bound ${REVOKE_CLOSE_MS} ms; code ${closed.code})`);
  return closed;
}

describe('realtime socket on two nodes', () => {
  const fx = clusterFixture({ nodes: 2 });
  const A = () => fx.nodes[0];
  const B = () => fx.nodes[1];

  for (const format of FORMATS) {
    describe(format, () => {
      test('each node names itself in the runtime context', async () => {
        const s = await A().client().authenticateDevice(newDeviceId(), true);
        const onA = await openSocket(A(), s, format);
        const onB = await openSocket(B(), s, format);
        assert.equal((await rpcJSON(onA, 'ctx')).node, nodeName(0));
        assert.equal((await rpcJSON(onB, 'ctx')).node, nodeName(1));
      });

      test('a logout through node B closes the session\'s socket on node A within 1 s; another session\'s socket stays', async (t) => {
        const id = newDeviceId();
        const s1 = await A().client().authenticateDevice(id, true);
        const s2 = await A().client().authenticateDevice(id, true);
        const onA = await openSocket(A(), s1, format);
        const otherOnA = await openSocket(A(), s2, format);
        const otherOnB = await openSocket(B(), s2, format);

        assert.equal(await B().client().sessionLogout(s1, s1.token, s1.refresh_token), true);
        await assertClosedWithin(t, onA, performance.now(), 'logout');
        await otherOnA.assertStaysOpen(300, 'another session\'s socket on A');
        await otherOnB.assertStaysOpen(0, 'another session\'s socket on B');
      });

      test('DELETE /v2/account/sessions/{id} on node B closes the socket on node A within 1 s', async (t) => {
        const id = newDeviceId();
        const phone = await A().client().authenticateDevice(id, true);
        const tablet = await B().client().authenticateDevice(id, true);
        const onA = await openSocket(A(), phone, format);
        const del = await B().raw('DELETE', `/v2/account/sessions/${decodeJwt(phone.token).payload.tid}`, { bearer: tablet.token });
        assert.equal(del.status, 200, del.text);
        await assertClosedWithin(t, onA, performance.now(), 'session delete');
      });

      test('logout of every session through node B closes the user\'s sockets on both nodes within 1 s', async (t) => {
        const id = newDeviceId();
        const s1 = await A().client().authenticateDevice(id, true);
        const s2 = await B().client().authenticateDevice(id, true);
        const sockets = { s1OnA: await openSocket(A(), s1, format), s2OnA: await openSocket(A(), s2, format) };
        const s1OnB = await openSocket(B(), s1, format);
        const bystander = await openSocket(A(), await A().client().authenticateDevice(newDeviceId(), true), format);

        const res = await B().raw('POST', '/v2/session/logout', { bearer: s2.token, body: {} });
        assert.equal(res.status, 200, res.text);
        const t0 = performance.now();
        for (const [name, rt] of Object.entries(sockets)) await assertClosedWithin(t, rt, t0, `logout-all, ${name}`);
        await s1OnB.waitClosed(CLOSE_WAIT_MS, t0);
        await bystander.assertStaysOpen(0, 'another user\'s socket');
      });

      test('a ban on node B closes the user\'s sockets on node A within 1 s', async (t) => {
        const id = newDeviceId();
        const s1 = await A().client().authenticateDevice(id, true);
        const s2 = await A().client().authenticateDevice(id, true);
        const onA = [await openSocket(A(), s1, format), await openSocket(A(), s2, format)];
        const admin = await openSocket(B(), await B().client().authenticateDevice(newDeviceId(), true), format);
        await admin.rpc('ban', JSON.stringify({ user_id: s1.user_id }));
        const t0 = performance.now();
        for (const [i, rt] of onA.entries()) await assertClosedWithin(t, rt, t0, `ban, socket ${i}`);
      });

      test('rpc sockets on node B lists the user\'s sockets on both nodes', async () => {
        const s = await A().client().authenticateDevice(newDeviceId(), true, newUsername());
        const onA = await openSocket(A(), s, format);
        const onB = await openSocket(B(), s, format);
        const observer = await openSocket(B(), await B().client().authenticateDevice(newDeviceId(), true), format);
        const idA = (await rpcJSON(onA, 'ctx')).session_id;
        const idB = (await rpcJSON(onB, 'ctx')).session_id;
        const list = await rpcJSON(observer, 'sockets', { user_id: s.user_id });
        const ids = (xs) => xs.map((x) => x.session_id).sort();
        assert.deepEqual(ids(list.sockets), [idA, idB].sort(), `SocketsList: ${JSON.stringify(list)}`);
        assert.deepEqual(ids(list.stream), [idA, idB].sort(), `StreamUserList: ${JSON.stringify(list)}`);
        for (const x of list.stream) assert.equal(x.username, s.username);
        for (const x of [...list.sockets, ...list.stream]) {
          assert.equal(x.user_id, s.user_id);
          // The node holding the socket: named after its --name (an instance suffix is tolerated here; see
          // the next test).
          const name = nodeName(x.session_id === idA ? 0 : 1);
          assert.ok(x.node === name || x.node.startsWith(`${name}-`), `node of ${JSON.stringify(x)}: want ${name}`);
        }
      });

      test('a listed socket\'s node is the node name server code sees in its context, as in Nakama', async () => {
        // In Nakama a presence's node is the holding node's name, the RUNTIME_CTX_NODE of code running
        // there; modules compare the two to tell local sessions from remote ones.
        const s = await A().client().authenticateDevice(newDeviceId(), true);
        const onA = await openSocket(A(), s, format);
        const onB = await openSocket(B(), s, format);
        const ctxA = await rpcJSON(onA, 'ctx');
        const ctxB = await rpcJSON(onB, 'ctx');
        const list = await rpcJSON(onB, 'sockets');
        const nodeOf = (xs, id) => xs.find((x) => x.session_id === id)?.node;
        assert.equal(nodeOf(list.sockets, ctxA.session_id), ctxA.node, `SocketsList: ${JSON.stringify(list.sockets)}`);
        assert.equal(nodeOf(list.sockets, ctxB.session_id), ctxB.node, `SocketsList: ${JSON.stringify(list.sockets)}`);
        assert.equal(nodeOf(list.stream, ctxA.session_id), ctxA.node, `StreamUserList: ${JSON.stringify(list.stream)}`);
        assert.equal(nodeOf(list.stream, ctxB.session_id), ctxB.node, `StreamUserList: ${JSON.stringify(list.stream)}`);
      });

      test('rpc disconnect on node B closes a socket on node A', async (t) => {
        const s = await A().client().authenticateDevice(newDeviceId(), true);
        const onA = await openSocket(A(), s, format);
        const onB = await openSocket(B(), s, format);
        const target = (await rpcJSON(onA, 'ctx')).session_id;
        assert.deepEqual(await rpcJSON(onB, 'disconnect', { session_id: target }), {});
        await assertClosedWithin(t, onA, performance.now(), 'disconnect');
        await onB.assertStaysOpen(0, 'the caller');
      });
    });
  }
});

describe('session.single_socket on two nodes', () => {
  const fx = clusterFixture({ nodes: 2, args: ['--session.single_socket', 'true'] });

  for (const format of FORMATS) {
    test(`${format}: a new socket on node B closes the user's socket on node A, which is told first`, async () => {
      const [A, B] = fx.nodes;
      const id = newDeviceId();
      const s1 = await A.client().authenticateDevice(id, true);
      const s2 = await B.client().authenticateDevice(id, true);
      const onA = await openSocket(A, s1, format);
      const onB = await openSocket(B, s2, format);
      const closed = await onA.waitClosed();
      const note = onA.notifications.find((n) => n.subject === 'single_socket');
      assert.ok(note, `the socket on A got a single_socket notification before the close: ${JSON.stringify(onA.notifications)} (close ${JSON.stringify(closed)})`);
      assert.equal(note.code, -7);
      await onB.assertStaysOpen(300, 'the new socket on B');
    });
  }
});
