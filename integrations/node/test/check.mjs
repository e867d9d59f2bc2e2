// The checks of test/run.sh, one per subcommand: `node check.mjs WHAT ARGS...`
// exits 0 if it holds, else prints why and exits 1.
import fs from 'node:fs';
import path from 'node:path';

const [what, ...args] = process.argv.slice(2);

function fail(message) {
  console.log(message);
  process.exit(1);
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function readLines(file) {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** EXPECTED_SETS: "set=prefix prefix…" lines. */
function expectedSets() {
  const sets = new Map();
  for (const line of (process.env.EXPECTED_SETS || '').split('\n')) {
    if (!line.trim()) continue;
    const [set, prefixes] = line.split('=');
    sets.set(set, prefixes.split(' ').filter(Boolean).sort());
  }
  return sets;
}

/** Every directory under `root` that holds cassettes: set → sorted file-name prefixes. */
function setsOnDisk(root) {
  const found = new Map();
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.json')) {
        const set = path.relative(root, dir).split(path.sep).join('/');
        const prefix = entry.name.replace(/-[0-9a-f]{20}-\d{3}\.json$/, '');
        if (!found.has(set)) found.set(set, []);
        found.get(set).push(prefix);
      }
    }
  };
  walk(root);
  for (const prefixes of found.values()) prefixes.sort();
  return found;
}

/** `./path size mtime` lines → Map(path → "size mtime"). */
function snapshot(file) {
  const map = new Map();
  for (const line of readLines(file)) {
    const [name, size, mtime] = line.split(' ');
    map.set(name, `${size} ${mtime}`);
  }
  return map;
}

/** A Jest or Vitest JSON report's tests: [{ name, status, messages }]. */
function testsOf(report) {
  const out = [];
  for (const file of report.testResults || []) {
    for (const t of file.assertionResults || []) {
      out.push({ name: t.fullName || t.title, status: t.status, messages: (t.failureMessages || []).join('\n') });
    }
  }
  return out;
}

const checks = {
  // Every file package.json's exports, main and types name is in `npm pack`'s list.
  packed([pkgJson, packJson]) {
    const pkg = readJson(pkgJson);
    const files = new Set(readJson(packJson)[0].files.map((f) => f.path));
    const targets = new Set([pkg.main, pkg.types]);
    const collect = (v) => {
      if (typeof v === 'string') targets.add(v);
      else if (v && typeof v === 'object') Object.values(v).forEach(collect);
    };
    collect(pkg.exports);
    for (const t of targets) {
      const rel = t.replace(/^\.\//, '');
      if (!files.has(rel)) fail(`npm pack leaves out ${rel}, which package.json names`);
    }
    for (const f of files) {
      if (f.startsWith('test/')) fail(`npm pack ships the test file ${f}`);
    }
  },

  // The named proxy's summary line in OUT: N hits (and no miss) or N recorded.
  summary([out, proxy, n, kind]) {
    const re = new RegExp(
      `${proxy} proxy: stripe-vcr summary: (\\d+) requests?: (\\d+) hits?, (\\d+) miss(?:es)?, (\\d+) recorded, (\\d+) forwarded unrecorded, (\\d+) errors?`,
    );
    const lines = readLines(out).filter((l) => re.test(l));
    if (lines.length !== 1) fail(`${out}: expected one ${proxy} proxy summary, found ${lines.length}`);
    const [, total, hits, misses, recorded, forwarded, errors] = lines[0].match(re).map(Number);
    const got = { hits, recorded }[kind];
    if (got !== Number(n) || misses !== 0 || forwarded !== 0 || errors !== 0) {
      fail(`${out}: expected ${n} ${kind} and no miss, forward or error; got: ${lines[0].trim()} (${total} requests)`);
    }
  },

  // The sets on disk are exactly the expected ones, each holding its own
  // requests; the tests noted their sets in RECORD mode.
  sets([root, notesFile, record]) {
    const expected = expectedSets();
    const disk = setsOnDisk(root);
    for (const [set, prefixes] of expected) {
      const got = disk.get(set);
      if (!got) fail(`no cassettes in the set ${set}; sets on disk: ${[...disk.keys()].join(', ')}`);
      if (got.join(' ') !== prefixes.join(' ')) {
        fail(`the set ${set} holds [${got.join(' ')}], expected [${prefixes.join(' ')}]`);
      }
    }
    for (const set of disk.keys()) {
      if (!expected.has(set)) fail(`unexpected cassettes in ${set}`);
    }
    const notes = readLines(notesFile).map((l) => JSON.parse(l));
    if (notes.length === 0) fail(`no test noted its set in ${notesFile}`);
    const runners = new Set(notes.map((n) => n.runner));
    for (const note of notes) {
      if (!expected.has(note.set)) fail(`a ${note.runner} test used the unexpected set ${note.set}`);
      if (note.record !== record) fail(`a ${note.runner} test ran in record mode ${note.record}, not ${record}`);
    }
    for (const set of expected.keys()) {
      const runner = set.split('/')[1];
      if (runners.has(runner) && !notes.some((n) => n.set === set)) fail(`no ${runner} test used the set ${set}`);
    }
  },

  // RUNNER's tests ran in at least N workers.
  workers([notesFile, runner, n]) {
    const workers = new Set(
      readLines(notesFile)
        .map((l) => JSON.parse(l))
        .filter((note) => note.runner === runner)
        .map((note) => note.worker),
    );
    if (workers.size < Number(n)) fail(`${runner} ran its tests in ${workers.size} worker(s) (${[...workers]}), expected ${n}`);
  },

  // Every test failed with the near-miss message; the test whose app
  // swallows the error failed through stripe-vcr's own check.
  misses([reportFile, out]) {
    const tests = testsOf(readJson(reportFile));
    if (tests.length !== 3) fail(`${reportFile}: expected 3 tests, found ${tests.length}`);
    for (const t of tests) {
      if (t.status !== 'failed') fail(`"${t.name}" did not fail`);
      if (!/Closest recording: .*differs in amount: \d+ ≠ \d+/.test(t.messages)) {
        fail(`"${t.name}" failed without the near-miss message:\n${t.messages.slice(0, 800)}`);
      }
    }
    const hold = tests.find((t) => t.name.includes('places a hold'));
    if (!hold || !hold.messages.includes('StripeVcrMissError: stripe-vcr: this test made 1 request that its cassettes do not hold')) {
      fail(`the hold test (errors swallowed by the app) did not fail with StripeVcrMissError:\n${hold && hold.messages.slice(0, 800)}`);
    }
    if (!fs.readFileSync(out, 'utf8').includes('differs in amount: 2501 ≠ 2500')) {
      fail(`${out} does not show "differs in amount: 2501 ≠ 2500"`);
    }
  },

  // N tests failed, each naming NEEDLE.
  failed([reportFile, n, needle]) {
    const failedTests = testsOf(readJson(reportFile)).filter((t) => t.status === 'failed');
    if (failedTests.length !== Number(n)) fail(`${reportFile}: ${failedTests.length} tests failed, expected ${n}`);
    for (const t of failedTests) {
      if (!t.messages.includes(needle)) fail(`"${t.name}" failed without "${needle}":\n${t.messages.slice(0, 800)}`);
    }
  },

  // Every cassette of BEFORE is still there, unchanged.
  kept([before, after]) {
    const a = snapshot(before);
    const b = snapshot(after);
    if (a.size === 0) fail(`${before} is empty`);
    for (const [name, meta] of a) {
      if (b.get(name) !== meta) fail(`${name} changed (${meta} → ${b.get(name) || 'deleted'})`);
    }
  },

  // AFTER is BEFORE plus one new cassette under each PREFIX, nothing else changed.
  added([before, after, ...prefixes]) {
    checks.kept([before, after]);
    const a = snapshot(before);
    const added = [...snapshot(after).keys()].filter((name) => !a.has(name));
    for (const prefix of prefixes) {
      const n = added.filter((name) => name.startsWith(prefix)).length;
      if (n !== 1) fail(`${n} new cassettes like ${prefix}*, expected 1 (new: ${added.join(', ') || 'none'})`);
    }
    if (added.length !== prefixes.length) fail(`new cassettes: ${added.join(', ')}; expected only ${prefixes.join(', ')}`);
  },

  // The run's report names the binary from the platform package.
  binary([out, bin, pkg]) {
    const want = `binary ${bin} (from the package ${pkg})`;
    if (!fs.readFileSync(out, 'utf8').includes(want)) fail(`${out} does not say "${want}"`);
  },
};

if (!checks[what]) fail(`unknown check ${what}`);
checks[what](args);
