// Unit tests of the parts that need no proxy: set names, binary lookup,
// configuration, set collisions. `node --test integrations/node/test/unit.test.mjs`
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  StripeVcr,
  StripeVcrSetCollisionError,
  readConfig,
  resolveBinary,
  sanitizeSegment,
  setNameFor,
  usedSets,
} from '../index.js';

const here = path.dirname(fileURLToPath(import.meta.url));

let tmp;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stripe-vcr-unit-'));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('set names', () => {
  const vectors = JSON.parse(fs.readFileSync(path.join(here, 'set-names.json'), 'utf8'));

  test('match the shared vectors', () => {
    for (const { file, test: name, set } of vectors.cases) {
      assert.equal(setNameFor(file, name, '/'), set, `${file} :: ${name}`);
    }
  });

  test('are valid for the proxy', () => {
    for (const { set } of vectors.cases) {
      assert.ok(set.length <= 200, set);
      for (const segment of set.split('/')) {
        assert.match(segment, /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/, set);
        assert.ok(segment.length <= 89, set);
      }
    }
  });

  test('change only spaces without a hash, anything else with one', () => {
    assert.equal(sanitizeSegment('refunds a payment'), 'refunds-a-payment');
    assert.match(sanitizeSegment('refund [eur]'), /^refund-eur-[0-9a-f]{8}$/);
    assert.notEqual(sanitizeSegment('refund [eur]'), sanitizeSegment('refund (eur)'));
    assert.match(sanitizeSegment('..'), /^unnamed-[0-9a-f]{8}$/);
    assert.equal(sanitizeSegment('x'.repeat(80)), 'x'.repeat(80));
    assert.match(sanitizeSegment('x'.repeat(81)), new RegExp(`^${'x'.repeat(80)}-[0-9a-f]{8}$`));
  });

  test('are relative to the working directory, extension dropped', () => {
    assert.equal(setNameFor('/repo/test/shop.test.mjs', 'x', '/repo'), 'test/shop.test/x');
    assert.equal(setNameFor(path.join(process.cwd(), 'a.spec.ts'), 'y'), 'a.spec/y');
  });
});

describe('binary lookup', () => {
  function executable(file) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '#!/bin/sh\n');
    fs.chmodSync(file, 0o755);
    return file;
  }

  test('STRIPE_VCR_BIN comes first', () => {
    const bin = executable(path.join(tmp, 'custom', 'stripe-vcr'));
    const onPath = executable(path.join(tmp, 'path', 'stripe-vcr'));
    const found = resolveBinary({ env: { STRIPE_VCR_BIN: bin, PATH: path.dirname(onPath) }, searchFrom: [tmp] });
    assert.deepEqual(found, { path: bin, source: 'STRIPE_VCR_BIN' });
  });

  test('STRIPE_VCR_BIN that is not executable is an error, not a fallback', () => {
    const onPath = executable(path.join(tmp, 'path', 'stripe-vcr'));
    assert.throws(
      () => resolveBinary({ env: { STRIPE_VCR_BIN: path.join(tmp, 'nope'), PATH: path.dirname(onPath) } }),
      /STRIPE_VCR_BIN is .*nope, which is not an executable file/,
    );
  });

  test('then the platform package, then PATH', () => {
    const project = path.join(tmp, 'project');
    const pkgDir = path.join(project, 'node_modules', '@stripe-vcr', 'linux-x64');
    fs.mkdirSync(pkgDir, { recursive: true });
    fs.writeFileSync(path.join(pkgDir, 'package.json'), '{"name":"@stripe-vcr/linux-x64","version":"0.1.0"}');
    const packaged = executable(path.join(pkgDir, 'bin', 'stripe-vcr'));
    const onPath = executable(path.join(tmp, 'path', 'stripe-vcr'));
    const env = { PATH: path.dirname(onPath) };
    const options = { env, platform: 'linux', arch: 'x64', searchFrom: [project] };
    assert.deepEqual(resolveBinary(options), { path: packaged, source: 'package', package: '@stripe-vcr/linux-x64' });
    // Another platform's package is not this one's.
    assert.deepEqual(resolveBinary({ ...options, arch: 'arm64' }), { path: onPath, source: 'PATH' });
  });

  test('none of the three: an error naming all three', () => {
    const err = (() => {
      try {
        resolveBinary({ env: { PATH: tmp }, platform: 'linux', arch: 'x64', searchFrom: [tmp] });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err, 'expected an error');
    assert.match(err.message, /STRIPE_VCR_BIN/);
    assert.match(err.message, /@stripe-vcr\/linux-x64/);
    assert.match(err.message, /on PATH/);
  });
});

describe('configuration', () => {
  test('defaults', () => {
    const config = readConfig({}, {});
    assert.equal(config.record, 'none');
    assert.equal(config.upstream, 'https://api.stripe.com');
    assert.equal(config.cassettes, path.join(process.cwd(), 'cassettes'));
    assert.equal(config.upstreamCa, undefined);
  });

  test('from the environment', () => {
    const config = readConfig(
      {},
      {
        STRIPE_VCR_RECORD: 'new_episodes',
        STRIPE_VCR_UPSTREAM: 'https://127.0.0.1:9',
        STRIPE_VCR_UPSTREAM_CA: 'ca.pem',
        STRIPE_VCR_CASSETTES: 'fixtures/stripe',
      },
    );
    assert.equal(config.record, 'new_episodes');
    assert.equal(config.upstream, 'https://127.0.0.1:9');
    assert.equal(config.upstreamCa, path.resolve('ca.pem'));
    assert.equal(config.cassettes, path.resolve('fixtures/stripe'));
  });

  test('an unknown record mode is an error', () => {
    assert.throws(() => readConfig({}, { STRIPE_VCR_RECORD: 'sometimes' }), /none, once, new_episodes, all/);
  });
});

describe('sets of a run', () => {
  // A run in `all` (or `once`) mode with no proxy behind it: useTest only
  // claims the set (and empties it for `all`) as long as it goes to `record`.
  async function handle(stateDir, cassettes, record = 'all') {
    fs.mkdirSync(path.join(stateDir, 'sets'), { recursive: true });
    const ca = path.join(stateDir, 'ca.pem');
    fs.writeFileSync(ca, '');
    const proxy = { url: 'https://127.0.0.1:9', port: 9, ca };
    const runtime = {
      version: 1,
      record,
      cassettes,
      stateDir,
      proxies: record === 'once' ? { replay: proxy, record: proxy } : { record: proxy },
    };
    const vcr = new StripeVcr({ runtime, Stripe: class {} });
    await vcr.start();
    return vcr;
  }

  test('two tests with one set: the second fails, in any worker', async () => {
    const cassettes = path.join(tmp, 'cassettes');
    const first = await handle(path.join(tmp, 'state'), cassettes);
    const second = await handle(path.join(tmp, 'state'), cassettes);
    assert.equal(await first.useTest('a b', { file: 'test/x.test.js' }), 'test/x.test/a-b');
    // The same test again (a retry) is fine.
    await first.useTest('a b', { file: 'test/x.test.js' });
    await assert.rejects(second.useTest('a-b', { file: 'test/x.test.js' }), (e) => {
      assert.ok(e instanceof StripeVcrSetCollisionError);
      assert.match(e.message, /"a b" \(test\/x.test.js\) and "a-b" \(test\/x.test.js\)/);
      return true;
    });
  });

  test('the first claim of a set decides its proxy for the whole run', async () => {
    const cassettes = path.join(tmp, 'cassettes');
    const state = path.join(tmp, 'state');
    const first = await handle(state, cassettes, 'once');
    await first.useTest('records', { file: 'test/x.test.js' });
    assert.equal(first._current.target.name, 'record');
    // It recorded; a retry of the test (or another worker naming the set) still records.
    const dir = path.join(cassettes, 'test', 'x.test', 'records');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'create-0123-001.json'), '{}');
    const again = await handle(state, cassettes, 'once');
    await again.useTest('records', { file: 'test/x.test.js' });
    assert.equal(again._current.target.name, 'record');
    // In another run, a set with cassettes at its first claim is replayed
    // (useTest then asks the replay proxy, which this run does not have).
    const fresh = await handle(path.join(tmp, 'state2'), cassettes, 'once');
    await assert.rejects(fresh.useTest('records', { file: 'test/x.test.js' }), /ECONNREFUSED/);
    assert.deepEqual(usedSets(path.join(tmp, 'state2')), [
      { set: 'test/x.test/records', file: 'test/x.test.js', test: 'records', route: 'replay' },
    ]);
  });

  test('`all` empties the set (its own cassettes only) before the test', async () => {
    const cassettes = path.join(tmp, 'cassettes');
    const dir = path.join(cassettes, 'test', 'x.test', 'records');
    fs.mkdirSync(path.join(dir, 'nested'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'create-0123-001.json'), '{}');
    fs.writeFileSync(path.join(dir, 'nested', 'create-0123-001.json'), '{}');
    const vcr = await handle(path.join(tmp, 'state'), cassettes);
    await vcr.useTest('records', { file: 'test/x.test.js' });
    assert.deepEqual(fs.readdirSync(dir), ['nested']);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'nested')), ['create-0123-001.json']);
    // Only the run's first claim empties it: a retry keeps what the first attempt recorded.
    fs.writeFileSync(path.join(dir, 'create-4567-001.json'), '{}');
    await vcr.useTest('records', { file: 'test/x.test.js' });
    assert.deepEqual(fs.readdirSync(dir).sort(), ['create-4567-001.json', 'nested']);
  });
});
