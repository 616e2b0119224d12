// 17. Cut-over from Nakama: a session a game got from Nakama keeps working against Latchkey. With
// session.adopt_nakama_refresh_tokens, Nakama's refresh token (its claims, no sid, signed with the shared
// refresh key) is adopted: nakama-js refreshes it as usual and gets Latchkey's own pair of the same session.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Session, decodeJwt, expectError, newDeviceId, nowSec, serverFixture, signNakama } from './harness.mjs';

const SESSION_KEY = `session-key-${randomUUID()}`;
const REFRESH_KEY = `refresh-key-${randomUUID()}`;
const KEYS = ['--session.encryption_key', SESSION_KEY, '--session.refresh_encryption_key', REFRESH_KEY];

/** The session Nakama would have issued at a login of userId an hour ago, restored as a game does. */
function nakamaSession(userId) {
  const iat = Math.floor(nowSec()) - 3600;
  const claims = { tid: randomUUID(), uid: userId, usn: 'nakama-name', vrs: { region: 'eu' } };
  const token = signNakama({ ...claims, exp: iat + 7200, iat }, SESSION_KEY);
  const refresh = signNakama({ ...claims, exp: iat + 86400, iat }, REFRESH_KEY);
  return { session: Session.restore(token, refresh), tid: claims.tid };
}

describe('Nakama refresh tokens, adoption on', () => {
  const fx = serverFixture({ args: [...KEYS, '--session.adopt_nakama_refresh_tokens', 'true'] });

  test('nakama-js refreshes a Nakama session into a Latchkey one of the same id', async () => {
    const client = fx.server.client();
    const own = await client.authenticateDevice(newDeviceId(), true);
    const { session, tid } = nakamaSession(own.user_id);

    const adopted = await client.sessionRefresh(session);
    assert.equal(adopted.user_id, own.user_id);
    const { payload } = decodeJwt(adopted.token);
    assert.equal(payload.tid, tid, 'the same session id');
    assert.ok(payload.sid, 'a Latchkey token (it names its store)');
    assert.deepEqual(adopted.vars, { region: 'eu' });
    assert.equal((await client.getAccount(adopted)).user.id, own.user_id);

    const again = await client.sessionRefresh(adopted);
    assert.equal(decodeJwt(again.token).payload.tid, tid);
    const list = await fx.server.raw('GET', '/v2/account/sessions', { bearer: own.token });
    assert.equal(list.status, 200, list.text);
    assert.ok(list.json.sessions.some((s) => s.id === tid), `the adopted session is listed: ${list.text}`);
  });

  test('a Nakama session of an account Latchkey does not have is 401, code 16', async () => {
    const client = fx.server.client();
    const { session } = nakamaSession(randomUUID());
    await expectError(client.sessionRefresh(session), 401, 16, 'Refresh token invalid or expired.');
  });
});

describe('Nakama refresh tokens, adoption off (the default)', () => {
  const fx = serverFixture({ args: KEYS });

  test('a Nakama session is refused, 401, code 16', async () => {
    const client = fx.server.client();
    const own = await client.authenticateDevice(newDeviceId(), true);
    const { session } = nakamaSession(own.user_id);
    await expectError(client.sessionRefresh(session), 401, 16, 'Refresh token invalid or expired.');
  });
});
