// Test harness for the nakama-js compatibility suite: runs a real `latchkey` binary on loopback and
// hands out official @heroiclabs/nakama-js clients pointed at it.
//
// Binary: $LATCHKEY_BIN (absolute, or relative to the current directory), default ../bin/latchkey
// relative to compat/. Build it with `CGO_ENABLED=0 go build -o bin/latchkey ./cmd/latchkey`.
//
// Every server gets a fresh temporary data dir and a free 127.0.0.1 port, and is stopped (and its dir
// removed) when the test file ends, even if a test fails. Its stderr is kept and printed when a test
// fails or when the process dies on its own.
//
// Store: the embedded SQLite default, or, when $LATCHKEY_COMPAT_POSTGRES holds a PostgreSQL server URL on
// which the user may create databases, a fresh database on that server per server process (created with
// psql, dropped when the test file ends), so the same suite proves both backends.
//
// When node --test runs this file itself (it lives in test/, so the runner picks it up), it checks the
// harness: the binary exists, a server starts, answers /healthcheck, and stops cleanly on SIGTERM.

import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client, Session } from '@heroiclabs/nakama-js';

export { Client, Session };

const compatDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The latchkey binary under test, as an absolute path. */
export const BIN = process.env.LATCHKEY_BIN
  ? path.resolve(process.env.LATCHKEY_BIN)
  : path.resolve(compatDir, '..', 'bin', 'latchkey');

export const SERVER_KEY = 'defaultkey';
export const CLIENT_TIMEOUT_MS = 5000;
const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 10000;
const POLL_MS = 50;
const MAX_LOG_BYTES = 256 * 1024;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------
// Process-wide bookkeeping.

const liveServers = new Set();
const tempDirs = new Set();
const databases = new Set();

/** The PostgreSQL server to run against, or undefined for the embedded SQLite store. */
export const POSTGRES = process.env.LATCHKEY_COMPAT_POSTGRES || undefined;

function psql(url, sql) {
  return new Promise((resolve, reject) => {
    execFile('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], (err, stdout, stderr) => {
      if (err) reject(new Error(`psql: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Creates a database on POSTGRES and returns its URL. */
async function createDatabase() {
  const name = `compat_${randomUUID().replaceAll('-', '')}`;
  await psql(POSTGRES, `CREATE DATABASE ${name}`);
  databases.add(name);
  const u = new URL(POSTGRES);
  u.pathname = `/${name}`;
  return u.toString();
}

// nakama-js races every request against `setTimeout(reject, timeoutMs, "Request timed out.")` and
// never clears that timer, so each request keeps the test process alive for up to 5 s after the last
// test. Track exactly those timers and unref them once the file's tests are done, so each test file
// exits as soon as it has finished. Behaviour during the tests is unchanged.
const clientTimers = new Set();
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = function setTimeoutTracked(fn, ms, ...args) {
  const timer = realSetTimeout(fn, ms, ...args);
  if (args[0] === 'Request timed out.' && typeof timer?.unref === 'function') {
    clientTimers.add(timer);
    realSetTimeout(() => clientTimers.delete(timer), ms).unref();
  }
  return timer;
};

// nakama-js warns on every sessionRefresh of a just-created session when the server's lifetimes are
// shorter than 70 s / 3700 s (the default 60 s is). That is advice for game developers, not a
// compatibility signal; keep it out of the test output.
const realWarn = console.warn;
console.warn = (...args) => {
  if (typeof args[0] === 'string' && /^Session (refresh )?lifetime too short/.test(args[0])) return;
  realWarn(...args);
};

// The root after-hook of whichever test file imported this module.
after(async () => {
  for (const s of [...liveServers]) {
    try {
      await s.stop();
    } catch (err) {
      console.error(String(err?.stack ?? err));
    }
  }
  for (const dir of tempDirs) await fs.rm(dir, { recursive: true, force: true });
  tempDirs.clear();
  for (const name of databases) {
    await psql(POSTGRES, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((err) => console.error(String(err)));
  }
  databases.clear();
  for (const t of clientTimers) t.unref();
});

// Last resort if the test process exits abnormally: no orphaned servers, no leftover temp dirs.
process.on('exit', () => {
  for (const s of liveServers) s.child?.kill('SIGKILL');
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
});

// ---------------------------------------------------------------------------------------------------
// Server processes.

/** A free TCP port on 127.0.0.1: listen on port 0, read the port, close. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

class LatchkeyServer {
  constructor({ port, dataDir, args, databaseURL }) {
    this.port = port;
    this.databaseURL = databaseURL;
    this.dataDir = dataDir;
    this.url = `http://127.0.0.1:${port}`;
    this.extraArgs = args;
    this.child = null;
    this.log = '';
    this.undumped = '';
    this.dumps = 0;
    this.exited = null; // promise of {code, signal} for the current child
    this.exitInfo = null;
    this.stopping = false;
    this.generation = 0;
  }

  get args() {
    return [
      '--socket.address', '127.0.0.1',
      '--socket.port', String(this.port),
      '--data_dir', this.dataDir,
      '--auth.bcrypt_cost', '4',
      '--logger.level', 'warn',
      ...(this.databaseURL ? ['--database.address', this.databaseURL] : []),
      ...this.extraArgs,
    ];
  }

  appendLog(chunk) {
    this.log += chunk;
    if (this.log.length > MAX_LOG_BYTES) this.log = this.log.slice(-MAX_LOG_BYTES);
    this.undumped += chunk;
    if (this.undumped.length > MAX_LOG_BYTES) this.undumped = this.undumped.slice(-MAX_LOG_BYTES);
  }

  /** Prints what the server wrote to stderr/stdout: everything the first time, then what is new. */
  dumpLog(reason) {
    const part = this.dumps === 0 ? this.log : this.undumped;
    const what = this.dumps === 0 ? 'latchkey log' : 'latchkey log since the previous dump';
    this.dumps++;
    this.undumped = '';
    const body = part.trim() ? part.trimEnd() : '(no output)';
    console.error(`----- ${what} (${this.url}, data ${this.dataDir}) ${reason} -----\n${body}\n----- end of latchkey log -----`);
  }

  async start() {
    if (!existsSync(BIN)) {
      throw new Error(`latchkey binary not found at ${BIN}: build it with ` +
        '`CGO_ENABLED=0 go build -o bin/latchkey ./cmd/latchkey` or set LATCHKEY_BIN');
    }
    // Configuration comes only from our flags, never from a LATCHKEY_* variable of the caller
    // (LATCHKEY_BIN itself would otherwise look like a config key).
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LATCHKEY_')));
    this.stopping = false;
    this.exitInfo = null;
    const gen = ++this.generation;
    this.appendLog(`[harness] start #${gen}: ${BIN} ${this.args.join(' ')}\n`);
    const child = spawn(BIN, this.args, { cwd: this.dataDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.setEncoding('utf8').on('data', (d) => this.appendLog(d));
    child.stderr.setEncoding('utf8').on('data', (d) => this.appendLog(d));
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => {
        this.appendLog(`[harness] spawn error: ${err.message}\n`);
        this.exitInfo = { code: null, signal: null, error: err };
        resolve(this.exitInfo);
      });
      child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        if (!this.stopping) {
          this.appendLog(`[harness] latchkey exited on its own: code ${code}, signal ${signal}\n`);
          realSetTimeout(() => this.dumpLog('(process died unexpectedly)'), 20);
        }
        resolve(this.exitInfo);
      });
    });
    liveServers.add(this);
    try {
      await this.waitHealthy();
    } catch (err) {
      await this.stop().catch(() => {});
      this.dumpLog('(start failed)');
      throw err;
    }
  }

  async waitHealthy() {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (this.exitInfo) {
        throw new Error(`latchkey exited during start (code ${this.exitInfo.code}, signal ${this.exitInfo.signal})`);
      }
      try {
        const res = await fetch(`${this.url}/healthcheck`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = err?.cause?.code ?? err?.message ?? String(err);
      }
      await sleep(POLL_MS);
    }
    throw new Error(`latchkey did not answer GET /healthcheck with 200 within ${START_TIMEOUT_MS} ms (last: ${last})`);
  }

  /**
   * SIGTERM, then wait for the process to exit (bounded; SIGKILL and an error if it does not).
   * Returns {code, signal}. Idempotent.
   */
  async stop() {
    const child = this.child;
    if (!child) return this.exitInfo;
    this.stopping = true;
    if (!this.exitInfo) child.kill('SIGTERM');
    let timer;
    const timedOut = new Promise((resolve) => {
      timer = realSetTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
    });
    const res = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    this.child = null;
    liveServers.delete(this);
    if (res === 'timeout') {
      child.kill('SIGKILL');
      await this.exited;
      this.dumpLog('(did not stop on SIGTERM)');
      throw new Error(`latchkey did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM`);
    }
    return res;
  }

  /** Kills the server without a chance to clean up (a crash); start() brings it back. */
  async kill(signal = 'SIGKILL') {
    const child = this.child;
    if (!child) return this.exitInfo;
    this.stopping = true;
    if (!this.exitInfo) child.kill(signal);
    const res = await this.exited;
    this.child = null;
    liveServers.delete(this);
    return res;
  }

  /** Stops the server and starts it again on the same port with the same data dir. */
  async restart() {
    const res = await this.stop();
    await this.start();
    return res;
  }

  /** An official nakama-js client for this server, configured as a game would. */
  client(serverKey = SERVER_KEY, { autoRefresh = false } = {}) {
    return new Client(serverKey, '127.0.0.1', String(this.port), false, CLIENT_TIMEOUT_MS, autoRefresh);
  }

  /**
   * A raw HTTP request for what the official client cannot send. `body` may be a string (sent as is)
   * or a value (JSON-encoded). `bearer` / `basic` set the Authorization header.
   * Returns {status, headers, text, json} (json is undefined when the body is not JSON).
   */
  async raw(method, urlPath, { body, bearer, basic, headers = {} } = {}) {
    const h = { ...headers };
    if (bearer !== undefined) h.Authorization = `Bearer ${bearer}`;
    if (basic !== undefined) h.Authorization = `Basic ${Buffer.from(`${basic}:`).toString('base64')}`;
    if (body !== undefined && typeof body !== 'string') body = JSON.stringify(body);
    if (body !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
      h['Content-Type'] = 'application/json';
    }
    const res = await fetch(this.url + urlPath, {
      method, headers: h, body, signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  }
}

/**
 * Starts a latchkey server with the standard flags plus `args`. With a test context `t`, it is stopped
 * in t.after; in any case it is stopped when the test file ends.
 */
export async function startServer({ args = [], t } = {}) {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-compat-'));
  tempDirs.add(dataDir);
  const port = await freePort();
  const databaseURL = POSTGRES ? await createDatabase() : undefined;
  const server = new LatchkeyServer({ port, dataDir, args, databaseURL });
  if (t) {
    t.after(async () => {
      if (t.passed === false) server.dumpLog(`(test "${t.name}" failed)`);
      await server.stop();
    });
  }
  await server.start();
  return server;
}

/**
 * One server shared by the tests of the enclosing describe (or file): started in before, stopped in
 * after, its log printed after any failing test. Use `fx.server` inside tests.
 */
export function serverFixture({ args = [] } = {}) {
  const fx = { server: null };
  before(async () => {
    fx.server = await startServer({ args });
  });
  afterEach((t) => {
    if (t.passed === false && fx.server) fx.server.dumpLog(`(test "${t.name}" failed)`);
  });
  after(async () => {
    if (fx.server) await fx.server.stop();
  });
  return fx;
}

// ---------------------------------------------------------------------------------------------------
// Assertions and helpers.

/**
 * Awaits a call that must fail with a Nakama error: nakama-js throws the fetch Response on a non-2xx
 * status. Checks the HTTP status, the body's `code` and (when given) that `message` contains
 * messageSubstring. Returns the parsed body.
 */
export async function expectError(promise, status, code, messageSubstring) {
  let value;
  let err;
  let failed = false;
  try {
    value = await promise;
  } catch (e) {
    failed = true;
    err = e;
  }
  if (!failed) {
    assert.fail(`expected HTTP ${status} (code ${code}), but the call succeeded: ${safeJSON(value)}`);
  }
  if (!err || typeof err.status !== 'number' || typeof err.text !== 'function') {
    assert.fail(`expected an HTTP error Response (${status}), but got: ${err?.stack ?? String(err)}`);
  }
  const text = await err.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`HTTP ${err.status}: error body is not JSON: ${JSON.stringify(text)}`);
  }
  assert.equal(err.status, status, `HTTP status (body ${text})`);
  assert.equal(body.code, code, `error code (body ${text})`);
  assert.equal(typeof body.message, 'string', `error message (body ${text})`);
  if (messageSubstring !== undefined) {
    assert.ok(body.message.includes(messageSubstring),
      `error message ${JSON.stringify(body.message)} should contain ${JSON.stringify(messageSubstring)}`);
  }
  return body;
}

/** Asserts a raw() result is a Nakama error body with the given status, code and message part. */
export function assertRawError(res, status, code, messageSubstring) {
  assert.equal(res.status, status, `HTTP status (body ${res.text})`);
  assert.ok(res.json && typeof res.json === 'object', `error body must be JSON, got ${JSON.stringify(res.text)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, 'error Content-Type');
  if (code !== undefined) assert.equal(res.json.code, code, `error code (body ${res.text})`);
  assert.equal(typeof res.json.message, 'string', `error message (body ${res.text})`);
  if (messageSubstring !== undefined) {
    assert.ok(res.json.message.includes(messageSubstring),
      `error message ${JSON.stringify(res.json.message)} should contain ${JSON.stringify(messageSubstring)}`);
  }
}

function safeJSON(v) {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/** Decodes a compact JWS without verifying it: {header, payload, signature}. */
export function decodeJwt(token) {
  const parts = token.split('.');
  assert.equal(parts.length, 3, `a JWT has three parts: ${token}`);
  const dec = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  return { header: dec(parts[0]), payload: dec(parts[1]), signature: parts[2] };
}

export const b64url = (obj) => Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj)).toString('base64url');

/** A fresh device id (36 bytes, within 10-128). */
export const newDeviceId = () => `dev-${randomUUID()}`;
/** A fresh custom id. */
export const newCustomId = () => `custom-${randomUUID()}`;
/** A fresh, lower-case email address. */
export const newEmail = () => `${randomUUID()}@example.com`;
/** A fresh username (no spaces, well under 128 bytes). */
export const newUsername = () => `user_${randomUUID().replaceAll('-', '').slice(0, 20)}`;

/** Unix seconds now. */
export const nowSec = () => Date.now() / 1000;

// ---------------------------------------------------------------------------------------------------
// Self-check, when node --test runs this file directly.

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  test('harness: the latchkey binary exists', () => {
    assert.ok(existsSync(BIN), `no binary at ${BIN}`);
  });

  test('harness: a server starts, answers /healthcheck, stops on SIGTERM with exit code 0', async () => {
    const server = await startServer();
    const res = await server.raw('GET', '/healthcheck');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, {});
    assert.ok(existsSync(server.dataDir));
    const exit = await server.stop();
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null },
      `exit after SIGTERM; log:\n${server.log}`);
    await assert.rejects(fetch(`${server.url}/healthcheck`, { signal: AbortSignal.timeout(1000) }),
      'nothing listens after stop');
  });

  test('harness: restart keeps port and data dir', async (t) => {
    const server = await startServer({ t });
    const { port, dataDir } = server;
    await server.restart();
    assert.equal(server.port, port);
    assert.equal(server.dataDir, dataDir);
    assert.equal((await server.raw('GET', '/healthcheck')).status, 200);
  });
}
