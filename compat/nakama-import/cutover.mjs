// The cut-over from Nakama, seen by the official nakama-js client: players whose accounts were imported with
// `latchkey import nakama` sign in to Latchkey with their Nakama device id, email and password, and custom id,
// without creating anything, and get their Nakama user ids; a session Nakama issued (its token pair) is
// restored and refreshed against Latchkey (adopted under session.adopt_nakama_refresh_tokens) and the
// refreshed session reads the same account. Run by internal/e2e (TestImportNakama), which imports the
// accounts, signs the Nakama pair and starts the server:
//
//   LATCHKEY_PORT=7350 NAKAMA_DEVICE_ID=... NAKAMA_DEVICE_USER=... NAKAMA_EMAIL=... NAKAMA_PASSWORD=...
//   NAKAMA_EMAIL_USER=... NAKAMA_CUSTOM_ID=... NAKAMA_CUSTOM_USER=... NAKAMA_TOKEN=... NAKAMA_REFRESH_TOKEN=...
//   NAKAMA_TOKEN_USER=... node compat/nakama-import/cutover.mjs
//
// LATCHKEY_HOST defaults to 127.0.0.1, LATCHKEY_SERVER_KEY to defaultkey. Prints one line per step and
// exits non-zero on the first failure.
import assert from 'node:assert/strict';
import { Client, Session } from '@heroiclabs/nakama-js';

const env = process.env;
const host = env.LATCHKEY_HOST || '127.0.0.1';
const serverKey = env.LATCHKEY_SERVER_KEY || 'defaultkey';
const TIMEOUT_MS = 10_000;
let step = 'reading the environment'; // named in the failure message
const REQUIRED = [
  'LATCHKEY_PORT', 'NAKAMA_DEVICE_ID', 'NAKAMA_DEVICE_USER', 'NAKAMA_EMAIL', 'NAKAMA_PASSWORD',
  'NAKAMA_EMAIL_USER', 'NAKAMA_CUSTOM_ID', 'NAKAMA_CUSTOM_USER', 'NAKAMA_TOKEN', 'NAKAMA_REFRESH_TOKEN',
  'NAKAMA_TOKEN_USER',
];

async function main() {
  for (const name of REQUIRED) {
    assert.ok(env[name], `${name} is not set`);
  }
  const client = new Client(serverKey, host, env.LATCHKEY_PORT, false, TIMEOUT_MS, false);

  const logins = [
    ['authenticateDevice', () => client.authenticateDevice(env.NAKAMA_DEVICE_ID, false), env.NAKAMA_DEVICE_USER],
    ['authenticateEmail', () => client.authenticateEmail(env.NAKAMA_EMAIL, env.NAKAMA_PASSWORD, false), env.NAKAMA_EMAIL_USER],
    ['authenticateCustom', () => client.authenticateCustom(env.NAKAMA_CUSTOM_ID, false), env.NAKAMA_CUSTOM_USER],
  ];
  for (const [name, login, want] of logins) {
    step = `${name} (create=false)`;
    const session = await login();
    assert.equal(session.user_id, want, `${name} (create=false) signs in the imported Nakama user`);
    assert.equal(session.created, false, `${name} creates no account`);
    console.log(`${name}: user ${session.user_id}`);
  }

  step = 'sessionRefresh of the Nakama-issued session (adoption)';
  const nakama = Session.restore(env.NAKAMA_TOKEN, env.NAKAMA_REFRESH_TOKEN);
  assert.equal(nakama.user_id, env.NAKAMA_TOKEN_USER, 'the restored Nakama session names its user');
  const vars = { ...nakama.vars };
  const refreshed = await client.sessionRefresh(nakama);
  assert.equal(refreshed.user_id, env.NAKAMA_TOKEN_USER, 'sessionRefresh of the Nakama session keeps the user');
  assert.notEqual(refreshed.token, env.NAKAMA_TOKEN, 'sessionRefresh returns a new session token');
  assert.notEqual(refreshed.refresh_token, env.NAKAMA_REFRESH_TOKEN, 'sessionRefresh returns a new refresh token');
  assert.deepEqual({ ...refreshed.vars }, vars, 'sessionRefresh keeps the Nakama session vars');
  console.log(`sessionRefresh of the Nakama-issued session: adopted, user ${refreshed.user_id}`);

  step = 'getAccount with the refreshed session';
  const account = await client.getAccount(refreshed);
  assert.equal(account.user.id, env.NAKAMA_TOKEN_USER, 'getAccount with the refreshed session reads the same user');
  console.log(`getAccount: user ${account.user.id}`);
}

main().then(
  () => process.exit(0), // nakama-js leaves request timeout timers running
  (err) => {
    // nakama-js rejects with the fetch Response on an HTTP error, or with a string on a timeout.
    const what = err instanceof Error ? err.stack
      : err && typeof err.status === 'number' ? `HTTP ${err.status} ${err.statusText}`
      : err && err.message ? err.message : String(err);
    console.error(`nakama-js cut-over from Nakama failed at ${step}: ${what}`);
    process.exit(1);
  },
);
