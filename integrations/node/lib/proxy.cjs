'use strict';
// One stripe-vcr proxy process: started on 127.0.0.1:0 with --ready-json,
// asked over its admin endpoints, stopped with SIGTERM (its summary kept).

const fs = require('node:fs');
const http = require('node:http');
const { spawn } = require('node:child_process');

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
const STDERR_TAIL = 40;

/**
 * Starts `stripe-vcr <mode>` and resolves once it has printed its ready line
 * and answered /__stripe-vcr/health.
 *
 * options: bin, mode ('replay' | 'record'), cassettes, certs, recordMissing,
 * upstream, upstreamCa, args (more arguments), log (a file for its stderr).
 */
async function startProxy(options) {
  const args = [options.mode];
  if (options.recordMissing) args.push('--record-missing');
  // --stop-on-stdin-close: the proxy stops when this process does, however
  // it ends (a SIGKILL too): the write end of its stdin is ours alone.
  args.push('--listen', '127.0.0.1:0', '--ready-json', '--stop-on-stdin-close');
  args.push('--cassettes', options.cassettes, '--certs', options.certs);
  if (options.mode === 'record' || options.recordMissing) {
    args.push('--upstream', options.upstream);
    if (options.upstreamCa) args.push('--upstream-ca', options.upstreamCa);
  }
  args.push(...(options.args || []));

  const child = spawn(options.bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  // An open pipe must not keep the runner's process alive by itself.
  child.stdin.on('error', () => {});
  child.stdin.unref?.();
  const stderrTail = [];
  const logStream = options.log ? fs.createWriteStream(options.log, { flags: 'a' }) : null;
  lines(child.stderr, (line) => {
    stderrTail.push(line);
    if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
    if (logStream) logStream.write(`${line}\n`);
  });
  const output = [];
  let onReady;
  const ready = new Promise((resolve) => (onReady = resolve));
  lines(child.stdout, (line) => {
    if (onReady && line.startsWith('{')) {
      try {
        const info = JSON.parse(line);
        if (info.ready) {
          onReady(info);
          onReady = null;
          return;
        }
      } catch {
        // not the ready line
      }
    }
    output.push(line);
  });
  const exited = new Promise((resolve) => {
    child.once('error', (error) => resolve({ error }));
    child.once('close', (code, signal) => {
      if (logStream) logStream.end();
      resolve({ code, signal });
    });
  });
  // Never outlive the process that started it.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);

  const failed = (why) => {
    child.kill('SIGKILL');
    process.removeListener('exit', killOnExit);
    const tail = stderrTail.length ? `\n${stderrTail.map((l) => `    ${l}`).join('\n')}` : '';
    return new Error(`stripe-vcr: the ${options.mode} proxy (${options.bin}) ${why}${tail}`);
  };
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ timeout: true }), START_TIMEOUT_MS);
  });
  const first = await Promise.race([ready.then((info) => ({ info })), exited, timeout]);
  clearTimeout(timer);
  if (first.error) throw failed(`could not be started: ${first.error.message}`);
  if (first.timeout) throw failed(`printed no ready line in ${START_TIMEOUT_MS / 1000} s`);
  if (!first.info) throw failed(`exited (${first.signal || `status ${first.code}`}) before it was ready`);
  const info = first.info;
  const handle = new Proxy_(info, child, exited, output, stderrTail, killOnExit);
  const health = await handle.admin('GET', 'health');
  if (health.status !== 'ok') throw failed(`answered /__stripe-vcr/health with ${JSON.stringify(health)}`);
  return handle;
}

class Proxy_ {
  constructor(info, child, exited, output, stderrTail, killOnExit) {
    this.info = info;
    this.url = info.url;
    this.port = info.port;
    this.ca = info.ca;
    this.mode = info.mode;
    this.pid = child.pid;
    this._child = child;
    this._exited = exited;
    this._output = output;
    this._stderrTail = stderrTail;
    this._killOnExit = killOnExit;
  }

  /** An admin endpoint's JSON answer (404 and 4xx answers too; they are JSON). */
  admin(method, action, query) {
    return adminRequest(this.port, method, action, query);
  }

  /**
   * SIGTERM, then waits for the exit (SIGKILL after 15 s). Resolves to
   * `{ code, signal, output }`, output being what it printed after the ready
   * line: the `stripe-vcr summary:` line and the list of unused cassettes.
   */
  async stop() {
    process.removeListener('exit', this._killOnExit);
    this._child.kill('SIGTERM');
    this._child.stdin.end();
    let timer;
    const killed = new Promise((resolve) => {
      timer = setTimeout(() => {
        this._child.kill('SIGKILL');
        resolve();
      }, STOP_TIMEOUT_MS);
    });
    await Promise.race([this._exited, killed]);
    const end = await this._exited;
    clearTimeout(timer);
    return { code: end.code, signal: end.signal, output: this._output.slice() };
  }

  /** The last lines it logged (stderr). */
  logTail() {
    return this._stderrTail.slice();
  }
}

/** Calls `line` for each line of `stream`. */
function lines(stream, line) {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buffered += chunk;
    let i;
    while ((i = buffered.indexOf('\n')) >= 0) {
      line(buffered.slice(0, i).replace(/\r$/, ''));
      buffered = buffered.slice(i + 1);
    }
  });
  stream.on('end', () => {
    if (buffered) line(buffered);
  });
}

/** `METHOD http://127.0.0.1:PORT/__stripe-vcr/ACTION?QUERY` → parsed JSON (plus `httpStatus`). */
function adminRequest(port, method, action, query) {
  const qs = query ? `?${new URLSearchParams(query)}` : '';
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: `/__stripe-vcr/${action}${qs}`, agent: false, timeout: 30_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => {
          try {
            const value = JSON.parse(body);
            Object.defineProperty(value, 'httpStatus', { value: res.statusCode, enumerable: false });
            resolve(value);
          } catch {
            reject(new Error(`stripe-vcr: ${method} /__stripe-vcr/${action} answered ${res.statusCode}: ${body.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error) =>
      reject(new Error(`stripe-vcr: the proxy on 127.0.0.1:${port} did not answer ${method} /__stripe-vcr/${action}: ${error.message}`)),
    );
    req.end();
  });
}

exports.startProxy = startProxy;
exports.adminRequest = adminRequest;
