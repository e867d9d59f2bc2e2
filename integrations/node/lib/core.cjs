'use strict';
// The runner-neutral core: a run (the proxies of one test run, started once)
// and a StripeVcr (what one test file uses: it joins a run or starts its own,
// gives each test its cassette set, fails a test that missed, and builds
// Stripe clients that send every request to the right proxy and set).

const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');

const { resolveBinary, platformPackageName, PLATFORMS } = require('./binary.cjs');
const { startProxy, adminRequest } = require('./proxy.cjs');
const { setNameFor, sanitizeSegment, fullTestName } = require('./naming.cjs');

const RECORD_MODES = ['none', 'once', 'new_episodes', 'all'];
const DEFAULT_UPSTREAM = 'https://api.stripe.com';
/** The environment variable a run's coordinates are passed to test workers in. */
const RUNTIME_ENV = 'STRIPE_VCR_RUNTIME';
/** The API key clients get when none is given (apiKey, STRIPE_API_KEY): any test key does in replay. */
const PLACEHOLDER_KEY = 'sk_test_stripe_vcr_placeholder';
const SET_HEADER = 'Stripe-Vcr-Cassette';

// === configuration ===========================================================

/**
 * The settings of a run: options given in code win over the environment
 * (STRIPE_VCR_RECORD, STRIPE_VCR_UPSTREAM, STRIPE_VCR_UPSTREAM_CA,
 * STRIPE_VCR_CASSETTES, STRIPE_VCR_LOG), which wins over the defaults.
 */
function readConfig(options = {}, env = process.env) {
  const record = options.record || env.STRIPE_VCR_RECORD || 'none';
  if (!RECORD_MODES.includes(record)) {
    throw new Error(`stripe-vcr: STRIPE_VCR_RECORD is \`${record}\`; use one of ${RECORD_MODES.join(', ')}`);
  }
  const upstreamCa = options.upstreamCa || env.STRIPE_VCR_UPSTREAM_CA || undefined;
  return {
    record,
    upstream: options.upstream || env.STRIPE_VCR_UPSTREAM || DEFAULT_UPSTREAM,
    upstreamCa: upstreamCa && path.resolve(upstreamCa),
    cassettes: path.resolve(options.cassettes || env.STRIPE_VCR_CASSETTES || path.join(process.cwd(), 'cassettes')),
    log: options.log || env.STRIPE_VCR_LOG || undefined,
    proxyArgs: options.proxyArgs || [],
    binary: options.binary,
  };
}

// === a run: the proxies ======================================================

/** Which proxies each record mode runs. */
const PROXIES_OF = {
  none: ['replay'],
  new_episodes: ['replay'],
  all: ['record'],
  once: ['replay', 'record'],
};

/**
 * Starts the proxies of a run (one, or two for `once`) and a state directory
 * in which test workers note the sets they used. `run.runtime` is what
 * workers need to join it (JSON-safe); `run.stop()` stops it and reports.
 */
async function startRun(options = {}) {
  const config = readConfig(options);
  const binary = config.binary ? { path: path.resolve(config.binary), source: 'option' } : resolveBinary();
  fs.mkdirSync(config.cassettes, { recursive: true });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stripe-vcr-'));
  fs.mkdirSync(path.join(stateDir, 'sets'));
  const names = PROXIES_OF[config.record];
  const started = await Promise.allSettled(
    names.map((name) =>
      startProxy({
        bin: binary.path,
        mode: name,
        recordMissing: name === 'replay' && config.record === 'new_episodes',
        cassettes: config.cassettes,
        // One CA per proxy: two proxies starting at once never race to create one.
        certs: path.join(stateDir, `certs-${name}`),
        upstream: config.upstream,
        upstreamCa: config.upstreamCa,
        args: config.proxyArgs,
        log: config.log,
      }),
    ),
  );
  const handles = {};
  const errors = [];
  started.forEach((result, i) => {
    if (result.status === 'fulfilled') handles[names[i]] = result.value;
    else errors.push(result.reason);
  });
  if (errors.length) {
    await Promise.all(Object.values(handles).map((h) => h.stop()));
    fs.rmSync(stateDir, { recursive: true, force: true });
    throw errors[0];
  }
  const runtime = {
    version: 1,
    record: config.record,
    cassettes: config.cassettes,
    stateDir,
    binary,
    proxies: Object.fromEntries(
      Object.entries(handles).map(([name, h]) => [name, { url: h.url, port: h.port, ca: h.ca }]),
    ),
  };
  return new Run(runtime, handles);
}

class Run {
  constructor(runtime, handles) {
    this.runtime = runtime;
    this._handles = handles;
    // A runner that exits without stopping the run (an uncaught error, a
    // closed pipe) still leaves no CA key behind; its proxies get SIGTERM
    // from their own exit hooks (lib/proxy.cjs).
    this._removeOnExit = () => fs.rmSync(runtime.stateDir, { recursive: true, force: true });
    process.once('exit', this._removeOnExit);
  }

  /**
   * Stops the proxies and removes the state directory (and the CA in it).
   * Resolves to the run's report: the sets the tests used, the cassettes of
   * those sets that were never served, each proxy's summary line, and the
   * problems (a proxy that exited with an error, two tests with one set).
   */
  async stop() {
    const { stateDir } = this.runtime;
    const used = usedSets(stateDir);
    const sets = [...new Set(used.map((u) => u.set))].sort();
    const unused = new Set();
    const problems = [];
    if (this._handles.replay) {
      try {
        const answer = await this._handles.replay.admin('GET', 'unused');
        const wanted = new Set(sets);
        for (const file of answer.unused || []) {
          if (wanted.has(path.posix.dirname(file))) unused.add(file);
        }
      } catch (error) {
        problems.push(`could not list unused cassettes: ${error.message}`);
      }
    }
    const summaries = [];
    for (const [name, handle] of Object.entries(this._handles)) {
      const end = await handle.stop();
      const line = end.output.find((l) => l.startsWith('stripe-vcr summary:'));
      summaries.push({ proxy: name, line: line || null });
      if (end.code !== 0) {
        const how = end.signal ? `was killed (${end.signal})` : `exited with status ${end.code}`;
        const said = [...end.output, ...handle.logTail().slice(-10)].map((l) => `    ${l}`).join('\n');
        problems.push(`the ${name} proxy ${how}${said ? `:\n${said}` : ''}`);
      }
    }
    fs.rmSync(stateDir, { recursive: true, force: true });
    process.removeListener('exit', this._removeOnExit);
    const { record, binary } = this.runtime;
    return { record, binary, sets, unused: [...unused].sort(), summaries, problems };
  }
}

/** The sets noted in a run's state directory: `[{ set, file, test }]`. */
function usedSets(stateDir) {
  const dir = path.join(stateDir, 'sets');
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')));
    } catch {
      // a note being written; it was complete when it mattered
    }
  }
  return out;
}

/** A report as the lines a runner prints at the end. */
function formatReport(report) {
  const lines = [];
  const n = report.sets.length;
  const from = {
    STRIPE_VCR_BIN: 'from STRIPE_VCR_BIN',
    package: `from the package ${report.binary.package}`,
    PATH: 'from PATH',
    option: 'from the binary option',
  }[report.binary.source];
  lines.push(
    `stripe-vcr: record mode ${report.record}, ${n} cassette set${n === 1 ? '' : 's'} used; ` +
      `binary ${report.binary.path} (${from})`,
  );
  for (const s of report.summaries) {
    if (s.line) lines.push(`  ${s.proxy} proxy: ${s.line}`);
  }
  if (report.unused.length) {
    const u = report.unused.length;
    lines.push(`stripe-vcr: ${u} cassette${u === 1 ? '' : 's'} of these sets ${u === 1 ? 'was' : 'were'} never served:`);
    for (const file of report.unused) lines.push(`  ${file}`);
  }
  for (const p of report.problems) lines.push(`stripe-vcr: ${p}`);
  return lines.join('\n');
}

/** Prints a report; throws when it has problems (a proxy that failed). */
function reportOrThrow(report, write = (text) => process.stdout.write(text)) {
  write(`${formatReport(report)}\n`);
  if (report.problems.length) {
    throw new Error(`stripe-vcr: ${report.problems.join('; ')}`);
  }
}

/** The run a test worker was handed in STRIPE_VCR_RUNTIME, if any. */
function runtimeFromEnv(env = process.env) {
  const raw = env[RUNTIME_ENV];
  if (!raw) return undefined;
  let value;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error(`stripe-vcr: ${RUNTIME_ENV} is not JSON`);
  }
  if (!value || value.version !== 1 || !value.proxies) {
    throw new Error(`stripe-vcr: ${RUNTIME_ENV} was written by another version of stripe-vcr`);
  }
  return value;
}

// === a test file's handle ====================================================

/** A test made requests its cassettes do not hold (replay misses). */
class StripeVcrMissError extends Error {
  constructor(set, misses) {
    const n = misses.length;
    super(
      `stripe-vcr: this test made ${n} request${n === 1 ? '' : 's'} that its cassettes do not hold ` +
        `(set ${set}):\n${misses.map((m) => `  - ${m.message}`).join('\n')}\n` +
        'Re-record with STRIPE_VCR_RECORD=all (this set again) or new_episodes (add what is missing), or make the request match.',
    );
    this.name = 'StripeVcrMissError';
    this.set = set;
    this.misses = misses;
    // The message says it all; a stack into this package would only hide it.
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** Two tests of a run map to one cassette set. */
class StripeVcrSetCollisionError extends Error {
  constructor(set, first, second) {
    super(
      `stripe-vcr: two tests map to the cassette set ${set}: ` +
        `"${first.test}" (${first.file || 'no file'}) and "${second.test}" (${second.file || 'no file'}). ` +
        'Rename one of them (set names keep letters, digits, `.`, `_` and `-`, and turn a space into `-`: "a b" and "a-b" collide).',
    );
    this.name = 'StripeVcrSetCollisionError';
    this.set = set;
    this.stack = `${this.name}: ${this.message}`;
  }
}

class StripeVcr {
  /**
   * options: record, cassettes, upstream, upstreamCa, binary, proxyArgs, log
   * (for a run it starts itself); runtime (a run to join; default: the one in
   * STRIPE_VCR_RUNTIME); testFile (the file set names start from); apiKey;
   * Stripe (the class clients are made with) or loadStripe (async, returns it).
   */
  constructor(options = {}) {
    this._options = options;
    this._runtime = undefined;
    this._run = undefined;
    this._targets = {};
    this._current = undefined;
    this._prepared = new Map();
    this._Stripe = options.Stripe;
    this._stripeError = undefined;
  }

  /**
   * Joins a run (`runtime`; default: options.runtime, else the one a global
   * setup handed down in STRIPE_VCR_RUNTIME), or starts one of its own.
   */
  async start(runtime) {
    if (this._runtime) return;
    const joined = runtime || this._options.runtime || runtimeFromEnv();
    if (joined) {
      this._runtime = joined;
    } else {
      this._run = await startRun(this._options);
      this._runtime = this._run.runtime;
    }
    for (const [name, p] of Object.entries(this._runtime.proxies)) {
      this._targets[name] = { name, port: p.port, url: p.url, ca: p.ca, pem: fs.readFileSync(p.ca) };
    }
    if (!this._Stripe) {
      try {
        this._Stripe = this._options.loadStripe ? await this._options.loadStripe() : requirePeer('stripe');
      } catch (error) {
        this._stripeError = error;
      }
    }
  }

  /** True once started. */
  get started() {
    return Boolean(this._runtime);
  }

  /** The record mode of the run. */
  get record() {
    return this._requireRuntime().record;
  }

  /** The cassette directory (absolute). */
  get cassettes() {
    return this._requireRuntime().cassettes;
  }

  /** The current test's cassette set, or undefined between tests. */
  get set() {
    return this._current && this._current.set;
  }

  /**
   * The proxy the current test talks to (or the first one between tests):
   * `{ url, port, ca }`, ca being the path of the CA certificate (PEM) to trust.
   */
  get proxy() {
    const target = (this._current && this._current.target) || Object.values(this._targets)[0];
    if (!target) throw new Error('stripe-vcr: not started yet');
    return { url: target.url, port: target.port, ca: target.ca };
  }

  /** The cassette set `name` would get in the test file `file`. */
  setNameFor(name, file = this._options.testFile) {
    return setNameFor(file, name);
  }

  /**
   * Begins a test: gives it its cassette set (from the test file and `name`,
   * or `options.set`), prepares it for the record mode, and on a replay proxy
   * restarts the set's sequences and notes where its misses start.
   */
  async useTest(name, options = {}) {
    this._requireRuntime();
    const file = options.file === undefined ? this._options.testFile : options.file;
    const set = options.set || setNameFor(file, name);
    const rel = file ? relativeFile(file) : undefined;
    const route = { set, target: this._target(claimSet(this._runtime, { set, file: rel, test: name })) };
    let baseline = 0;
    if (route.target.name === 'replay') {
      // 404 when the set has no cassettes (yet): nothing to restart.
      await adminRequest(route.target.port, 'POST', 'reset', { set });
      const answer = await adminRequest(route.target.port, 'GET', 'misses', { set });
      for (const m of answer.misses || []) baseline = Math.max(baseline, m.seq);
    }
    this._current = { set, name, target: route.target, baseline };
    return set;
  }

  /**
   * Ends the current test: throws a StripeVcrMissError listing the proxy's
   * messages if any of its requests missed (even when the app swallowed the
   * SDK's error).
   */
  async check() {
    const current = this._current;
    this._current = undefined;
    if (!current || current.target.name !== 'replay') return;
    const answer = await adminRequest(current.target.port, 'GET', 'misses', { set: current.set });
    const fresh = (answer.misses || []).filter((m) => m.seq > current.baseline);
    if (fresh.length) throw new StripeVcrMissError(current.set, fresh);
  }

  /**
   * Stops what this handle started: its HTTP agents, and its own run if it
   * did not join one. Resolves to the run's report (or undefined if joined).
   */
  async stop() {
    for (const target of Object.values(this._targets)) {
      if (target.agent) target.agent.destroy();
    }
    this._targets = {};
    this._current = undefined;
    const run = this._run;
    this._run = undefined;
    this._runtime = undefined;
    this._prepared.clear();
    return run ? run.stop() : undefined;
  }

  /**
   * stop(), then prints the report (unused cassettes of the sets used, the
   * proxies' summaries) with `write`, and throws if a proxy failed.
   */
  async finish(write = (text) => process.stdout.write(text)) {
    const report = await this.stop();
    if (report) reportOrThrow(report, write);
    return report;
  }

  /**
   * A Stripe client for the current test (created within a test, it stays
   * with that test's set; created outside one, each request goes to the set
   * of the test running when it is made). options: apiKey, set (a set of its
   * own, e.g. for a beforeAll), and any other Stripe config.
   */
  stripe(options = {}) {
    const { apiKey, set, ...config } = options;
    const Stripe = this._stripeClass();
    const key = apiKey || this._options.apiKey || process.env.STRIPE_API_KEY || PLACEHOLDER_KEY;
    return new Stripe(key, { ...config, ...this.stripeConfig({ set }) });
  }

  /**
   * The options for `new Stripe(key, options)`: `{ host, port, protocol,
   * httpClient }`. The httpClient trusts the proxy's CA, adds the
   * Stripe-Vcr-Cassette header, and sends each request to the proxy the
   * test's set is served by (in `once` mode there are two).
   */
  stripeConfig(options = {}) {
    const Stripe = this._stripeClass();
    const first = Object.values(this._targets)[0];
    let route;
    if (options.set) route = { set: options.set };
    else if (this._current) route = { current: this._current };
    else route = { follow: true };
    return {
      host: '127.0.0.1',
      port: first.port,
      protocol: 'https',
      httpClient: this._httpClient(Stripe, route),
    };
  }

  /** The header naming the current test's set, for a client of your own. */
  headers() {
    if (!this._current) throw new Error('stripe-vcr: headers() outside a test (no cassette set)');
    return { [SET_HEADER]: this._current.set };
  }

  // --- internals ---

  _requireRuntime() {
    if (!this._runtime) throw new Error('stripe-vcr: not started (call start() first, or use setupStripeVcr())');
    return this._runtime;
  }

  _stripeClass() {
    this._requireRuntime();
    if (this._Stripe) return this._Stripe;
    const why = this._stripeError ? ` (${this._stripeError.message.split('\n')[0]})` : '';
    throw new Error(`stripe-vcr: cannot load the \`stripe\` package${why}; npm install --save-dev stripe`);
  }

  /** The route of a set a client named itself (`stripe({ set })`), claimed once. */
  _explicit(set) {
    let route = this._prepared.get(set);
    if (!route) {
      route = { set, target: this._target(claimSet(this._runtime, { set, explicit: true })) };
      this._prepared.set(set, route);
    }
    return route;
  }

  _target(name) {
    const target = this._targets[name];
    if (!target) throw new Error(`stripe-vcr: the run has no ${name} proxy`);
    return target;
  }

  _baseClient(Stripe, target) {
    if (!target.base) {
      target.agent = new https.Agent({ ca: target.pem, keepAlive: true });
      target.base = Stripe.createNodeHttpClient(target.agent);
    }
    return target.base;
  }

  _httpClient(Stripe, route) {
    const vcr = this;
    const resolve = async () => {
      if (route.current) return { set: route.current.set, target: route.current.target };
      if (route.set) return vcr._explicit(route.set);
      if (vcr._current) return { set: vcr._current.set, target: vcr._current.target };
      return undefined;
    };
    return {
      getClientName: () => 'node',
      async makeRequest(host, port, reqPath, method, headers, data, protocol, timeout) {
        const to = await resolve();
        if (!to || !vcr._targets[to.target.name]) {
          return refusal(
            `stripe-vcr: a Stripe request (${method} ${reqPath}) was made outside a test, so it has no cassette set. ` +
              'Make it within a test, or create the client with stripe({ set: "name" }).',
          );
        }
        const base = vcr._baseClient(Stripe, to.target);
        return base.makeRequest(
          '127.0.0.1',
          to.target.port,
          reqPath,
          method,
          { ...headers, [SET_HEADER]: to.set },
          data,
          'https',
          timeout,
        );
      },
    };
  }
}

/** A Stripe-shaped 400 the SDK turns into a StripeInvalidRequestError. */
function refusal(message) {
  const body = { error: { type: 'invalid_request_error', message } };
  return {
    getStatusCode: () => 400,
    getHeaders: () => ({ 'content-type': 'application/json', 'request-id': 'stripe-vcr' }),
    getRawResponse: () => undefined,
    toStream: () => {
      throw new Error(message);
    },
    toJSON: async () => body,
  };
}

/** A StripeVcr for explicit use (node:test, or any runner): start, useTest, check, stop. */
function createStripeVcr(options) {
  return new StripeVcr(options);
}

// === sets on disk ============================================================

/** Cassette files are the `*.json` files directly in a set's directory. */
function cassetteFiles(dir) {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.json') && !e.name.startsWith('.'))
      .map((e) => path.join(dir, e.name));
  } catch {
    return [];
  }
}

function hasCassettes(dir) {
  return cassetteFiles(dir).length > 0;
}

/** Empties a set for `all` (its own cassettes; sets nested in it are left alone). */
function removeCassettes(dir) {
  for (const file of cassetteFiles(dir)) fs.rmSync(file, { force: true });
}

function relativeFile(file) {
  const rel = path.isAbsolute(file) ? path.relative(process.cwd(), file) : file;
  return rel.split(path.sep).join('/');
}

/**
 * Claims `set` for a test (or, `explicit`, for clients that named it) in the
 * run's state directory, and says which proxy serves it: one note per set,
 * created exclusively, so the first claim of the run decides for every worker
 * (`once`: replay if the set already holds cassettes, else record; `all`:
 * record, and the first claim empties the set). Throws if another test of
 * the run already has the set. The notes are also how the run learns, at its
 * end, which sets its tests used.
 */
function claimSet(runtime, note) {
  const { record, stateDir, cassettes } = runtime;
  const dir = path.join(cassettes, ...note.set.split('/'));
  let route = 'replay';
  if (record === 'all') route = 'record';
  else if (record === 'once' && !hasCassettes(dir)) route = 'record';
  const hash = crypto.createHash('sha256').update(note.set).digest('hex').slice(0, 24);
  const file = path.join(stateDir, 'sets', `${hash}.json`);
  if (createExclusive(file, JSON.stringify({ ...note, route }))) {
    if (record === 'all') removeCassettes(dir);
    return route;
  }
  const first = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!note.explicit && !first.explicit && (first.test !== note.test || first.file !== note.file)) {
    throw new StripeVcrSetCollisionError(note.set, first, note);
  }
  return first.route || route;
}

/** Writes `file` unless it exists (atomically: readers never see half of it); true if written. */
function createExclusive(file, text) {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, text);
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (error) {
    if (error.code === 'EEXIST') return false;
    throw error;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

// === peers ===================================================================

/**
 * Requires a peer dependency (stripe) as the test files do: from this
 * package, else from the project (a package installed from a folder is a
 * symlink, and its real path has no node_modules with the peer in it).
 */
function requirePeer(name) {
  try {
    return require(name);
  } catch (error) {
    if (error.code !== 'MODULE_NOT_FOUND') throw error;
    return require(require.resolve(name, { paths: [process.cwd()] }));
  }
}

module.exports = {
  RECORD_MODES,
  RUNTIME_ENV,
  PLATFORMS,
  StripeVcr,
  StripeVcrMissError,
  StripeVcrSetCollisionError,
  createStripeVcr,
  startRun,
  readConfig,
  runtimeFromEnv,
  formatReport,
  reportOrThrow,
  usedSets,
  resolveBinary,
  platformPackageName,
  setNameFor,
  sanitizeSegment,
  fullTestName,
};
