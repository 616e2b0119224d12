// Test harness for the nakama-js compatibility suite: runs a real `latchkey` binary on loopback and
// hands out official @heroiclabs/nakama-js clients pointed at it.
//
// Binary: $LATCHKEY_BIN (absolute, or relative to the current directory), default ../bin/latchkey
// relative to compat/. Build it with `CGO_ENABLED=0 go build -o bin/latchkey ./cmd/latchkey`. The realtime
// socket tests run $LATCHKEY_RT_BIN, default ../bin/latchkey-testserver: the same server with a test module
// compiled in (`CGO_ENABLED=0 go build -o bin/latchkey-testserver ./internal/cmd/latchkey-testserver`).
//
// Every server gets a fresh temporary data dir and a free 127.0.0.1 port, and is stopped (and its dir
// removed) when the test file ends, even if a test fails. Its stderr is kept and printed when a test
// fails or when the process dies on its own.
//
// Store: the embedded SQLite default, or, when $LATCHKEY_COMPAT_POSTGRES holds a PostgreSQL server URL on
// which the user may create databases, a fresh database on that server per server process (created with
// psql, dropped when the test file ends), so the same suite proves both backends.
//
// Clusters: clusterFixture() starts several servers on ONE store (the same --data_dir on SQLite, the same
// fresh database on PostgreSQL), each with its own --name and port.
//
// Platform sign-in: $LATCHKEY_FAKESOCIAL_BIN, default ../bin/latchkey-fakesocial (`CGO_ENABLED=0 go build -o
// bin/latchkey-fakesocial ./internal/cmd/latchkey-fakesocial`), runs local HTTPS stand-ins for Apple, Google,
// Facebook, Steam and Game Center with keys it makes at start. One such process serves a whole test file
// (fakeSocial(), started on first use, stopped when the file ends); `social: true` on a fixture appends the
// flags that point latchkey at it, and mint() asks it for real credentials. The server verifies them for real.
//
// Examples: the Go, TypeScript and Lua builds of each example in $LATCHKEY_EXAMPLES_DIR (default ../examples):
// exampleBuild(example, lang) says how to run one (the Go binary from $LATCHKEY_EXAMPLES_BIN_DIR, default
// ../bin/examples; latchkey with --runtime.path for TypeScript and Lua), exampleFixture() runs it.
//
// Realtime sockets: nakama-js sockets in either wire format (FORMATS: nakama-js's default JSON adapter, and
// WebSocketAdapterPb from @heroiclabs/nakama-js-protobuf), wrapped by openSocket() so that a test can wait
// for the server to close them; rawHandshake() and rawSocket() for what the client cannot send.
//
// When node --test runs this file itself (it lives in test/, so the runner picks it up), it checks the
// harness: the binary exists, a server starts, answers /healthcheck, and stops cleanly on SIGTERM.

import { execFile, spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client, DefaultSocket, Session, WebSocketAdapterText } from '@heroiclabs/nakama-js';
import { WebSocketAdapterPb } from '@heroiclabs/nakama-js-protobuf';
import { WebSocket as WsWebSocket } from 'ws';

export { Client, Session };

// nakama-js (a browser library) and its protobuf adapter open sockets with the global `WebSocket`, which
// Node 20 does not have without --experimental-websocket. We install the `ws` package's WebSocket, always
// (also on Node 22+, whose global is undici's), rather than rely on that flag, because:
// - `npm test`, `node --test` and running one file with `node` stay flag-free, and every Node version runs
//   the same implementation;
// - ws implements the WHATWG surface nakama-js uses (onopen/onmessage/onclose/onerror, readyState
//   constants, binaryType "arraybuffer" for the protobuf adapter, close events with code and reason),
//   and it is what Node programs (bots, load tools, server-side clients) actually pair with nakama-js;
// - the raw tests need ws anyway (an Authorization header on the upgrade, the HTTP answer of a refused
//   handshake, binary frames on a JSON socket, oversize frames), and one implementation for both keeps
//   the two kinds of tests comparable.
globalThis.WebSocket = WsWebSocket;

const compatDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The latchkey binary under test, as an absolute path. */
export const BIN = process.env.LATCHKEY_BIN
  ? path.resolve(process.env.LATCHKEY_BIN)
  : path.resolve(compatDir, '..', 'bin', 'latchkey');

/** The test server (latchkey with the compat test module) for the realtime tests, as an absolute path. */
export const RT_BIN = process.env.LATCHKEY_RT_BIN
  ? path.resolve(process.env.LATCHKEY_RT_BIN)
  : path.resolve(compatDir, '..', 'bin', 'latchkey-testserver');

/** latchkey-fakesocial (the social sign-in stand-ins), as an absolute path. */
export const FAKESOCIAL_BIN = process.env.LATCHKEY_FAKESOCIAL_BIN
  ? path.resolve(process.env.LATCHKEY_FAKESOCIAL_BIN)
  : path.resolve(compatDir, '..', 'bin', 'latchkey-fakesocial');

/**
 * The examples (examples/NAME, each with a Go module, a TypeScript port in typescript/ and a Lua port in lua/):
 * $LATCHKEY_EXAMPLES_DIR, default ../examples relative to compat/.
 */
export const EXAMPLES_DIR = process.env.LATCHKEY_EXAMPLES_DIR
  ? path.resolve(process.env.LATCHKEY_EXAMPLES_DIR)
  : path.resolve(compatDir, '..', 'examples');

/**
 * Where the Go examples' binaries are, one per example named after it: $LATCHKEY_EXAMPLES_BIN_DIR, default
 * ../bin/examples relative to compat/ (`go build -o bin/examples/NAME ./examples/NAME`).
 */
export const EXAMPLES_BIN_DIR = process.env.LATCHKEY_EXAMPLES_BIN_DIR
  ? path.resolve(process.env.LATCHKEY_EXAMPLES_BIN_DIR)
  : path.resolve(compatDir, '..', 'bin', 'examples');

/** The languages every example is written in: its Go module, its TypeScript port and its Lua port. */
export const EXAMPLE_LANGS = ['go', 'typescript', 'lua'];

/**
 * How to run one language's build of an example: {lang, bin, args, requires}. Go: the example's own binary
 * (latchkey with the module compiled in). TypeScript: latchkey with --runtime.path at the example's
 * typescript/build and --runtime.js_entrypoint index.js (the build of `npm run build` in examples/). Lua:
 * latchkey with --runtime.path at the example's lua/ directory. `requires` lists the files the build needs,
 * each with how to make it; startServer checks them first.
 */
export function exampleBuild(example, lang) {
  const dir = path.join(EXAMPLES_DIR, example);
  const goHint = `build it with \`CGO_ENABLED=0 go build -o bin/examples/${example} ./examples/${example}\` or set LATCHKEY_EXAMPLES_BIN_DIR`;
  const tsHint = 'build the TypeScript examples with `cd examples && npm ci && npm run build`';
  switch (lang) {
    case 'go': {
      const bin = path.join(EXAMPLES_BIN_DIR, example);
      return { lang, bin, args: [], requires: [{ path: bin, hint: goHint }] };
    }
    case 'typescript': {
      const build = path.join(dir, 'typescript', 'build');
      return {
        lang, bin: BIN, args: ['--runtime.path', build, '--runtime.js_entrypoint', 'index.js'],
        requires: [{ path: path.join(build, 'index.js'), hint: tsHint }],
      };
    }
    case 'lua': {
      const luaDir = path.join(dir, 'lua');
      return { lang, bin: BIN, args: ['--runtime.path', luaDir], requires: [{ path: luaDir, hint: 'the example has no Lua port' }] };
    }
  }
  throw new Error(`exampleBuild: unknown language ${lang}`);
}

export const SERVER_KEY = 'defaultkey';
export const CLIENT_TIMEOUT_MS = 5000;

// nakama-js rejects a socket request that gets no answer after DefaultSocket.DefaultSendTimeoutMs
// (10 s, read at every send). Use the HTTP client's 5 s instead, so that a server that never answers
// fails a test sooner; it is a public setting a game may change too.
DefaultSocket.DefaultSendTimeoutMs = CLIENT_TIMEOUT_MS;
const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 10000;
const POLL_MS = 50;
const MAX_LOG_BYTES = 256 * 1024;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------
// Process-wide bookkeeping.

const liveServers = new Set();
const tempDirs = new Set();
const databases = new Map(); // name -> the admin URL of the server holding it
const liveSockets = new Set(); // RtSocket and RawSocket objects still open

/** The PostgreSQL server to run against, or undefined for the embedded SQLite store. */
export const POSTGRES = process.env.LATCHKEY_COMPAT_POSTGRES || undefined;

/**
 * The PostgreSQL server a cluster's nodes share. SQLite serves one node (a second server on the same data
 * dir is refused), so the SQLite run's clusters take a database on $LATCHKEY_COMPAT_CLUSTER_POSTGRES.
 */
const CLUSTER_POSTGRES = POSTGRES || process.env.LATCHKEY_COMPAT_CLUSTER_POSTGRES || undefined;

function psql(url, sql) {
  return new Promise((resolve, reject) => {
    execFile('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], (err, stdout, stderr) => {
      if (err) reject(new Error(`psql: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Creates a database on the server at admin (default POSTGRES) and returns its URL. */
async function createDatabase(admin = POSTGRES) {
  const name = `compat_${randomUUID().replaceAll('-', '')}`;
  await psql(admin, `CREATE DATABASE ${name}`);
  databases.set(name, admin);
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return u.toString();
}

// nakama-js races every request against `setTimeout(reject, timeoutMs, "Request timed out.")` and
// never clears that timer, so each request keeps the test process alive for up to 5 s after the last
// test. Track exactly those timers and unref them once the file's tests are done, so each test file
// exits as soon as it has finished. Behaviour during the tests is unchanged.
// Its socket does the same: the connect timeout, every request's timeout (rejecting "The socket timed out
// ...") and the heartbeat's next ping (`this.pingPong()`) are timers it never clears; those closures are
// recognised by their source.
const clientTimers = new Set();
const realSetTimeout = globalThis.setTimeout;
const isNakamaSocketTimer = (fn) => typeof fn === 'function' && /socket timed out|pingPong\(\)/.test(fn.toString());
globalThis.setTimeout = function setTimeoutTracked(fn, ms, ...args) {
  const timer = realSetTimeout(fn, ms, ...args);
  if ((args[0] === 'Request timed out.' || isNakamaSocketTimer(fn)) && typeof timer?.unref === 'function') {
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
  for (const sock of [...liveSockets]) sock.close();
  for (const s of [...liveServers]) {
    try {
      await s.stop();
    } catch (err) {
      console.error(String(err?.stack ?? err));
    }
  }
  if (fakeSocialStarted) {
    const fs_ = fakeSocialStarted;
    fakeSocialStarted = null;
    await (await fs_.catch(() => null))?.stop().catch((err) => console.error(String(err?.stack ?? err)));
  }
  for (const dir of tempDirs) await fs.rm(dir, { recursive: true, force: true });
  tempDirs.clear();
  for (const [name, admin] of databases) {
    await psql(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((err) => console.error(String(err)));
  }
  databases.clear();
  for (const t of clientTimers) t.unref();
});

// Last resort if the test process exits abnormally: no orphaned servers, no leftover temp dirs.
process.on('exit', () => {
  for (const s of liveServers) s.child?.kill('SIGKILL');
  liveFakeSocial?.child?.kill('SIGKILL');
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
  constructor({ port, dataDir, args, databaseURL, bin = BIN, name }) {
    this.bin = bin;
    this.name = name; // --name, when given (cluster nodes)
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
      ...(this.name ? ['--name', this.name] : []),
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
    if (!existsSync(this.bin)) {
      throw new Error(this.bin === RT_BIN
        ? `latchkey test server not found at ${RT_BIN}: build it with ` +
          '`CGO_ENABLED=0 go build -o bin/latchkey-testserver ./internal/cmd/latchkey-testserver` or set LATCHKEY_RT_BIN'
        : `latchkey binary not found at ${this.bin}: build it with ` +
          '`CGO_ENABLED=0 go build -o bin/latchkey ./cmd/latchkey` or set LATCHKEY_BIN');
    }
    // Configuration comes only from our flags, never from a LATCHKEY_* variable of the caller
    // (LATCHKEY_BIN itself would otherwise look like a config key).
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LATCHKEY_')));
    this.stopping = false;
    this.exitInfo = null;
    const gen = ++this.generation;
    this.appendLog(`[harness] start #${gen}: ${this.bin} ${this.args.join(' ')}\n`);
    const child = spawn(this.bin, this.args, { cwd: this.dataDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
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
 * Starts a latchkey server with the standard flags plus `args`, running `bin` (default BIN; RT_BIN for the
 * test server; an example's build, see exampleBuild). `social: true` appends the flags of the file's
 * latchkey-fakesocial (see fakeSocial). `requires` lists files ({path, hint}) that must exist first. With a
 * test context `t`, it is stopped in t.after; in any case it is stopped when the test file ends.
 */
export async function startServer({ args = [], t, bin = BIN, social = false, requires = [] } = {}) {
  for (const r of requires) {
    if (!existsSync(r.path)) throw new Error(`${r.path} not found: ${r.hint}`);
  }
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-compat-'));
  tempDirs.add(dataDir);
  const port = await freePort();
  const databaseURL = POSTGRES ? await createDatabase() : undefined;
  if (social) args = [...args, ...(await fakeSocial()).flags];
  const server = new LatchkeyServer({ port, dataDir, args, databaseURL, bin });
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
 * after, its log printed after any failing test. Use `fx.server` inside tests. `bin` and `args` choose the
 * binary and extra flags, `requires` files that must exist (see startServer). `social: true` points it at
 * the file's latchkey-fakesocial (see fakeSocial and mint).
 */
export function serverFixture({ args = [], bin = BIN, social = false, requires = [] } = {}) {
  const fx = { server: null };
  before(async () => {
    fx.server = await startServer({ args, bin, social, requires });
  });
  afterEach((t) => {
    if (t.passed === false && fx.server) fx.server.dumpLog(`(test "${t.name}" failed)`);
  });
  after(async () => {
    if (fx.server) await fx.server.stop();
  });
  return fx;
}

/**
 * A server running one language's build of an example (see exampleBuild), shared by the tests of the
 * enclosing describe like serverFixture; `args` are extra flags.
 */
export function exampleFixture(example, lang, { args = [] } = {}) {
  const build = exampleBuild(example, lang);
  return serverFixture({ bin: build.bin, args: [...build.args, ...args], requires: build.requires });
}

/** The --name of cluster node i: node-a, node-b, ... */
export const nodeName = (i) => `node-${String.fromCharCode(97 + i)}`;

/**
 * Starts `nodes` servers sharing ONE store: the same --data_dir on SQLite (the nodes poll the shared file
 * for each other's revocations and socket commands), the same fresh database on PostgreSQL. Each gets its
 * own port and --name (nodeName(i)). They start one after the other, so that the first alone creates the
 * schema. `social: true` points them at the file's latchkey-fakesocial. Returns the servers in order.
 */
export async function startCluster({ nodes = 2, args = [], bin = RT_BIN, t, social = false } = {}) {
  if (!CLUSTER_POSTGRES) {
    throw new Error('a cluster shares one PostgreSQL database: set LATCHKEY_COMPAT_CLUSTER_POSTGRES (SQLite serves one node)');
  }
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'latchkey-compat-cluster-'));
  tempDirs.add(dataDir);
  const databaseURL = await createDatabase(CLUSTER_POSTGRES);
  if (social) args = [...args, ...(await fakeSocial()).flags];
  const servers = [];
  if (t) {
    t.after(async () => {
      for (const s of servers) {
        if (t.passed === false) s.dumpLog(`(test "${t.name}" failed)`);
        await s.stop();
      }
    });
  }
  for (let i = 0; i < nodes; i++) {
    const server = new LatchkeyServer({ port: await freePort(), dataDir, args, databaseURL, bin, name: nodeName(i) });
    servers.push(server);
    await server.start();
  }
  return servers;
}

/**
 * A cluster (see startCluster, default the test server binary) shared by the tests of the enclosing
 * describe: `fx.nodes[i]` inside tests. Every node's log is printed after a failing test.
 */
export function clusterFixture({ nodes = 2, args = [], bin = RT_BIN, social = false } = {}) {
  const fx = { nodes: [] };
  before(async () => {
    fx.nodes = await startCluster({ nodes, args, bin, social });
  });
  afterEach((t) => {
    if (t.passed === false) for (const s of fx.nodes) s.dumpLog(`(test "${t.name}" failed)`);
  });
  after(async () => {
    for (const s of fx.nodes) await s.stop();
  });
  return fx;
}

// ---------------------------------------------------------------------------------------------------
// Social sign-in stand-ins (latchkey-fakesocial).

const FAKESOCIAL_START_TIMEOUT_MS = 10000;
let fakeSocialStarted = null; // promise of the file's FakeSocial, once asked for
let liveFakeSocial = null; // its process, while it runs

/**
 * A running latchkey-fakesocial: `flags` are the latchkey flags that point a server's social sign-in at it
 * (social.* keys, --social.ca_file), `control` the URL of its loopback control API, `providers` the HTTPS
 * URL of the stand-ins.
 */
class FakeSocial {
  constructor(bin = FAKESOCIAL_BIN) {
    this.bin = bin;
    this.child = null;
    this.log = '';
    this.flags = null;
    this.control = null;
    this.providers = null;
    this.exited = null;
    this.exitInfo = null;
  }

  async start() {
    if (!existsSync(this.bin)) {
      throw new Error(`latchkey-fakesocial not found at ${this.bin}: build it with ` +
        '`CGO_ENABLED=0 go build -o bin/latchkey-fakesocial ./internal/cmd/latchkey-fakesocial` or set LATCHKEY_FAKESOCIAL_BIN');
    }
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LATCHKEY_')));
    const child = spawn(this.bin, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    liveFakeSocial = this;
    let stdout = '';
    let gotLine;
    const line = new Promise((resolve) => {
      gotLine = resolve;
    });
    child.stdout.setEncoding('utf8').on('data', (d) => {
      if (this.flags) {
        this.log += d;
        return;
      }
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (nl >= 0) gotLine(stdout.slice(0, nl));
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      this.log = (this.log + d).slice(-MAX_LOG_BYTES);
    });
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => {
        this.exitInfo = { code: null, signal: null, error: err };
        resolve(this.exitInfo);
      });
      child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    let timer;
    const res = await Promise.race([
      line,
      this.exited.then((e) => ({ exit: e })),
      new Promise((resolve) => {
        timer = realSetTimeout(() => resolve({ timeout: true }), FAKESOCIAL_START_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (typeof res !== 'string') {
      await this.stop().catch(() => {});
      const why = res.timeout ? `printed no line within ${FAKESOCIAL_START_TIMEOUT_MS} ms`
        : `exited during start (code ${res.exit.code}, signal ${res.exit.signal}${res.exit.error ? `, ${res.exit.error.message}` : ''})`;
      throw new Error(`latchkey-fakesocial ${why}; output:\n${stdout}${this.log}`);
    }
    let info;
    try {
      info = JSON.parse(res);
    } catch {
      await this.stop().catch(() => {});
      throw new Error(`latchkey-fakesocial: the first line is not JSON: ${JSON.stringify(res)}`);
    }
    assert.ok(Array.isArray(info.flags) && info.flags.includes('--social.ca_file'), `latchkey-fakesocial flags: ${res}`);
    assert.match(info.control ?? '', /^http:\/\/127\.0\.0\.1:\d+$/, `latchkey-fakesocial control URL: ${res}`);
    this.flags = info.flags;
    this.control = info.control;
    this.providers = info.providers;
    return this;
  }

  /** A JSON request to the control API; returns the parsed answer (undefined for 204), throws on another status. */
  async request(method, urlPath, body) {
    const res = await fetch(this.control + urlPath, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });
    const text = await res.text();
    if (res.status === 204) return undefined;
    if (res.status !== 200) throw new Error(`latchkey-fakesocial ${method} ${urlPath} ${JSON.stringify(body)}: HTTP ${res.status} ${text}`);
    return JSON.parse(text);
  }

  /**
   * Mints a credential the stand-ins accept (see internal/cmd/latchkey-fakesocial): kind is apple, google,
   * facebooklimited ({sub, aud?, exp?} → {token}), facebook ({id, name?}), steam ({steam_id}),
   * facebookinstantgame ({player_id, secret?}) or gamecenter ({player_id, bundle_id?, timestamp_seconds?} →
   * {player_id, bundle_id, timestamp_seconds, salt, signature, public_key_url}).
   */
  mint(kind, input = {}) {
    return this.request('POST', `/mint/${kind}`, input);
  }

  /** How many requests each stand-in has received: {apple, google, facebook, facebooklimited, steam, gamecenter}. */
  hits() {
    return this.request('GET', '/hits');
  }

  /** SIGTERM, then a bounded wait for the exit (SIGKILL after it). Idempotent. */
  async stop() {
    const child = this.child;
    if (!child) return this.exitInfo;
    if (!this.exitInfo) child.kill('SIGTERM');
    let timer;
    const res = await Promise.race([this.exited, new Promise((resolve) => {
      timer = realSetTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
    })]);
    clearTimeout(timer);
    this.child = null;
    if (liveFakeSocial === this) liveFakeSocial = null;
    if (res === 'timeout') {
      child.kill('SIGKILL');
      await this.exited;
      throw new Error(`latchkey-fakesocial did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM; log:\n${this.log}`);
    }
    return res;
  }
}

/**
 * The test file's latchkey-fakesocial: started on the first call (the same process for every later call),
 * stopped when the file ends.
 */
export function fakeSocial() {
  if (!fakeSocialStarted) fakeSocialStarted = new FakeSocial().start();
  return fakeSocialStarted;
}

/** Mints a credential with the file's latchkey-fakesocial (see FakeSocial.mint). */
export async function mint(kind, input = {}) {
  return (await fakeSocial()).mint(kind, input);
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

/** A JWT signed as Nakama signs its tokens: HS256 over the raw bytes of key, no kid header. */
export function signNakama(payload, key) {
  const hp = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(payload)}`;
  return `${hp}.${createHmac('sha256', key).update(hp).digest('base64url')}`;
}

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
// Realtime sockets.

/** The socket wire formats: nakama-js's default (JSON text frames) and its protobuf adapter (binary). */
export const FORMATS = ['json', 'protobuf'];

/** How long a test waits, at most, for the server to close a socket it should close. */
export const CLOSE_WAIT_MS = 3000;

/**
 * A nakama-js socket adapter for `format`. `query` adds or replaces (or, with a null value, removes)
 * parameters of the /ws URL the adapter builds (it always sends lang=en, status and token): the official
 * adapter does everything else, only the URL it hands to `new WebSocket` is edited.
 */
export function socketAdapter(format, { query } = {}) {
  assert.ok(FORMATS.includes(format), `unknown format ${format}`);
  const adapter = format === 'protobuf' ? new WebSocketAdapterPb() : new WebSocketAdapterText();
  if (query) {
    const connect = adapter.connect.bind(adapter);
    adapter.connect = (...args) => {
      class EditedURL extends WsWebSocket {
        constructor(url, ...rest) {
          const u = new URL(url);
          for (const [k, v] of Object.entries(query)) {
            if (v === null) u.searchParams.delete(k);
            else u.searchParams.set(k, v);
          }
          super(u.toString(), ...rest);
        }
      }
      globalThis.WebSocket = EditedURL; // the adapter's connect() is synchronous
      try {
        connect(...args);
      } finally {
        globalThis.WebSocket = WsWebSocket;
      }
    };
  }
  return adapter;
}

/**
 * A connected nakama-js socket that records how it ends. `socket` is the DefaultSocket itself; the
 * wrapper owns its ondisconnect, onnotification and onheartbeattimeout handlers.
 */
export class RtSocket {
  constructor(socket, format) {
    this.socket = socket;
    this.format = format;
    this.notifications = [];
    this.heartbeatTimeouts = 0;
    this.closeEvent = null; // {code, reason, wasClean} of the first ondisconnect
    this.closedAt = null; // performance.now() of the first ondisconnect
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    // nakama-js calls ondisconnect with the WebSocket close event when the connection closes (and with
    // {} from its own disconnect(true), which the harness never uses); keep the first.
    socket.ondisconnect = (evt) => {
      if (this.closeEvent) return;
      this.closedAt = performance.now();
      this.closeEvent = { code: evt?.code, reason: evt?.reason, wasClean: evt?.wasClean };
      liveSockets.delete(this);
      this.resolveClosed(this.closeEvent);
    };
    socket.onnotification = (n) => this.notifications.push(n);
    socket.onheartbeattimeout = () => {
      this.heartbeatTimeouts++;
    };
  }

  /** Whether the underlying WebSocket is open (nakama-js's own check). */
  get isOpen() {
    return this.socket.adapter.isOpen();
  }

  rpc(id, payload) {
    return this.socket.rpc(id, payload);
  }

  /**
   * Waits up to timeoutMs for ondisconnect and returns {code, reason, wasClean, ms}, ms being the time
   * from `since` (a performance.now() value; default: when the wait began) to the close. Fails the test
   * if the socket is still open at the deadline.
   */
  async waitClosed(timeoutMs = CLOSE_WAIT_MS, since = performance.now()) {
    let timer;
    const timeout = new Promise((resolve) => {
      timer = realSetTimeout(() => resolve('timeout'), Math.max(0, timeoutMs - (performance.now() - since)));
    });
    const res = await Promise.race([this.closed, timeout]);
    clearTimeout(timer);
    if (res === 'timeout') {
      assert.fail(`the ${this.format} socket is still open ${Math.round(performance.now() - since)} ms after the ` +
        `event that should close it (waited for ondisconnect up to ${timeoutMs} ms)`);
    }
    return { ...res, ms: this.closedAt - since };
  }

  /** Asserts the socket stays open for ms, then that it still answers an echo RPC. */
  async assertStaysOpen(ms, why) {
    const res = await Promise.race([this.closed, sleep(ms).then(() => 'open')]);
    assert.equal(res, 'open', `${why}: the ${this.format} socket closed: ${safeJSON(res)}`);
    const echoed = await this.rpc('echo', 'still-open');
    assert.equal(echoed.payload, 'still-open', `${why}: echo RPC after ${ms} ms`);
  }

  /** Closes the socket from the client side (no ondisconnect is recorded for it). */
  close() {
    liveSockets.delete(this);
    this.socket.ondisconnect = () => {};
    try {
      this.socket.disconnect(false);
    } catch {
      /* already closed */
    }
  }
}

/**
 * Opens a nakama-js socket on `server` for `session` in `format` (see FORMATS) and returns an RtSocket.
 * `heartbeatMs` sets nakama-js's heartbeat (ping) interval; `query` edits the /ws URL (see socketAdapter);
 * `beforeConnect(socket)` runs just before connect. Rejects, as nakama-js's connect does, when the
 * handshake fails.
 */
export async function openSocket(server, session, format, { heartbeatMs, query, beforeConnect } = {}) {
  const socket = server.client().createSocket(false, false, socketAdapter(format, { query }));
  if (heartbeatMs !== undefined) socket.setHeartbeatTimeoutMs(heartbeatMs);
  const rt = new RtSocket(socket, format);
  beforeConnect?.(socket);
  await socket.connect(session, false, CLIENT_TIMEOUT_MS);
  liveSockets.add(rt);
  return rt;
}

/**
 * Awaits a socket request that must fail with a realtime error envelope: nakama-js rejects with the
 * envelope's `error` object ({code, message[, context]}), or with a string when it timed out or the
 * socket was not open. Checks the code and that the message contains messageSubstring. Returns the error.
 */
export async function expectSocketError(promise, code, messageSubstring) {
  let value;
  let err;
  let failed = false;
  try {
    value = await promise;
  } catch (e) {
    failed = true;
    err = e;
  }
  if (!failed) assert.fail(`expected a realtime error (code ${code}), but the request succeeded: ${safeJSON(value)}`);
  if (!err || typeof err !== 'object' || typeof err.code !== 'number') {
    assert.fail(`expected a realtime error envelope (code ${code}), but nakama-js rejected with: ${safeJSON(err)}`);
  }
  assert.equal(err.code, code, `error code (error ${safeJSON(err)})`);
  assert.equal(typeof err.message, 'string', `error message (error ${safeJSON(err)})`);
  if (messageSubstring !== undefined) {
    assert.ok(err.message.includes(messageSubstring),
      `error message ${JSON.stringify(err.message)} should contain ${JSON.stringify(messageSubstring)}`);
  }
  return err;
}

/** The ws:// URL of server's /ws with the given query parameters. */
export function wsURL(server, params = {}) {
  const q = new URLSearchParams(params).toString();
  return `ws://127.0.0.1:${server.port}/ws${q ? `?${q}` : ''}`;
}

/**
 * Encodes a realtime envelope (nakama-js's snake_case object, e.g. {cid: '1', ping: {}}) to protobuf bytes
 * with the official codec: WebSocketAdapterPb.send, its WebSocket replaced by a catcher.
 */
export function pbEncode(envelope) {
  const adapter = new WebSocketAdapterPb();
  let bytes;
  adapter._socket = { send: (b) => { bytes = b; } };
  adapter.send(structuredClone(envelope));
  return Buffer.from(bytes);
}

/** Decodes protobuf envelope bytes with the official codec (WebSocketAdapterPb's onmessage). */
export function pbDecode(buf) {
  const adapter = new WebSocketAdapterPb();
  let envelope;
  adapter._socket = {};
  adapter.onMessage = (e) => { envelope = e; };
  adapter._socket.onmessage({ data: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) });
  return envelope;
}

/**
 * A raw websocket (the ws package) on /ws. Messages are queued: on a JSON socket text frames parsed (or
 * left as strings) and binary frames as Buffers; on a protobuf socket binary frames decoded with the
 * official codec. send() takes a string or Buffer as is, or an envelope object encoded for the format.
 * `closed` resolves with {code, reason} when the connection closes.
 */
export class RawSocket {
  constructor(ws, format = 'json') {
    this.ws = ws;
    this.format = format;
    this.queue = [];
    this.waiters = [];
    this.closeEvent = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        liveSockets.delete(this);
        this.closeEvent = { code, reason: reason.toString() };
        resolve(this.closeEvent);
        for (const w of this.waiters.splice(0)) w(undefined);
      });
    });
    ws.on('message', (data, isBinary) => {
      let msg = data;
      if (isBinary && this.format === 'protobuf') {
        try {
          msg = pbDecode(data);
        } catch {
          msg = data;
        }
      } else if (!isBinary) {
        try {
          msg = JSON.parse(data.toString());
        } catch {
          msg = data.toString();
        }
      }
      const w = this.waiters.shift();
      if (w) w(msg);
      else this.queue.push(msg);
    });
    liveSockets.add(this);
  }

  send(data, options) {
    if (typeof data === 'string' || Buffer.isBuffer(data)) this.ws.send(data, options);
    else if (this.format === 'protobuf') this.ws.send(pbEncode(data), options);
    else this.ws.send(JSON.stringify(data), options);
  }

  /** The next message, waiting up to timeoutMs; fails the test on timeout or if the socket closes. */
  async next(timeoutMs = CLIENT_TIMEOUT_MS) {
    if (this.queue.length) return this.queue.shift();
    let timer;
    let waiter;
    const msg = await new Promise((resolve) => {
      waiter = resolve;
      this.waiters.push(resolve);
      timer = realSetTimeout(() => resolve('timeout'), timeoutMs);
    });
    clearTimeout(timer);
    this.waiters = this.waiters.filter((w) => w !== waiter);
    if (msg === 'timeout') assert.fail(`no message within ${timeoutMs} ms`);
    if (msg === undefined) assert.fail(`the socket closed while waiting for a message: ${safeJSON(this.closeEvent)}`);
    return msg;
  }

  /** Waits up to timeoutMs for the close; returns {code, reason} or fails the test. */
  async waitClosed(timeoutMs = CLOSE_WAIT_MS) {
    let timer;
    const timeout = new Promise((resolve) => {
      timer = realSetTimeout(() => resolve('timeout'), timeoutMs);
    });
    const res = await Promise.race([this.closed, timeout]);
    clearTimeout(timer);
    if (res === 'timeout') assert.fail(`the raw socket is still open after ${timeoutMs} ms`);
    return res;
  }

  close() {
    liveSockets.delete(this);
    this.ws.terminate();
  }
}

/**
 * A raw websocket handshake on /ws with the given query parameters and request headers. Resolves
 * {status: 101, socket: RawSocket} when the upgrade succeeds, or {status, headers, body} with the HTTP
 * answer of a refused one.
 */
export function rawHandshake(server, params = {}, headers = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WsWebSocket(wsURL(server, params), { headers, handshakeTimeout: CLIENT_TIMEOUT_MS });
    let settled = false;
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => {
        settled = true;
        resolve({ status: res.statusCode, headers: res.headers, body });
        req.destroy();
      });
    });
    ws.on('open', () => {
      settled = true;
      resolve({ status: 101, socket: new RawSocket(ws, params.format === 'protobuf' ? 'protobuf' : 'json') });
    });
    ws.on('error', (err) => {
      if (!settled) reject(err);
    });
  });
}

/** A raw websocket on /ws for token in format ('json' or 'protobuf'); fails the test unless it opens. */
export async function rawSocket(server, token, format = 'json', extra = {}) {
  const res = await rawHandshake(server, { lang: 'en', status: 'false', token, format, ...extra });
  assert.equal(res.status, 101, `handshake refused: HTTP ${res.status} ${res.body}`);
  return res.socket;
}

// ---------------------------------------------------------------------------------------------------
// Self-check, when node --test runs this file directly.

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  test('harness: the latchkey binary exists', () => {
    assert.ok(existsSync(BIN), `no binary at ${BIN}`);
  });

  test('harness: the test server binary exists', () => {
    assert.ok(existsSync(RT_BIN), `no binary at ${RT_BIN}`);
  });

  test('harness: the latchkey-fakesocial binary exists', () => {
    assert.ok(existsSync(FAKESOCIAL_BIN), `no binary at ${FAKESOCIAL_BIN}`);
  });

  test('harness: latchkey-fakesocial starts once per file, prints its flags and mints', async () => {
    const social = await fakeSocial();
    assert.equal(await fakeSocial(), social, 'one process per test file');
    assert.ok(social.flags.includes('--social.apple.bundle_id'));
    const { token } = await mint('apple', { sub: 'harness' });
    assert.equal(decodeJwt(token).payload.sub, 'harness');
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
