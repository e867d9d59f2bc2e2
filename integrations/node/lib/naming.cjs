'use strict';
// Cassette set names for tests. The rule is shared with the pytest plugin
// (integrations/python), so a project that tests in both languages gets the
// same layout; README.md, "How a test's cassette set is named", states it.

const crypto = require('node:crypto');
const path = require('node:path');

/** Longest set segment before its hash (a directory name: at most 89 characters). */
const MAX_SEGMENT = 80;
/** Longest set name the proxy accepts. */
const MAX_SET = 200;

function hash8(text) {
  return crypto.createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 8);
}

/**
 * One path segment of a set name: runs of characters outside [A-Za-z0-9._-]
 * become `-`, and `-` and `.` are trimmed from both ends. When that changed
 * more than spaces into `-`, or left more than 80 characters (then cut to 80,
 * trailing `-` and `.` trimmed again), `-` and the first 8 hex digits of the
 * SHA-256 of the original are appended, so `refund [eur]` and `refund (eur)`
 * stay apart; an empty result is `unnamed-` and the hash. (The pytest
 * plugin's `segment`, except that it hashes a change of spaces too.)
 */
function sanitizeSegment(original) {
  const text = String(original);
  let out = text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '');
  let lossless = out === text.replace(/ /g, '-');
  if (out.length > MAX_SEGMENT) {
    out = out.slice(0, MAX_SEGMENT).replace(/[-.]+$/, '');
    lossless = false;
  }
  if (lossless && out) return out;
  const hash = hash8(text);
  return out ? `${out}-${hash}` : `unnamed-${hash}`;
}

/**
 * The set of one test: the test file's path relative to `cwd` with its last
 * extension dropped, one segment per directory, then the test's full name
 * (enclosing describe blocks and the test, joined by single spaces) as one
 * segment, each segment sanitized by {@link sanitizeSegment}:
 *
 *   test/checkout.test.js + "checkout refunds [eur]"
 *     → test/checkout.test/checkout-refunds-eur-<hash8>
 *
 * A name longer than 200 characters is cut to 191 and gets `-` and the hash
 * of the whole name.
 */
function setNameFor(file, testName, cwd = process.cwd()) {
  const segments = [];
  if (file) {
    let rel = path.isAbsolute(file) ? path.relative(cwd, file) : file;
    rel = rel.split(path.sep).join('/');
    const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
    const base = parts.pop();
    if (base !== undefined) {
      const dot = base.lastIndexOf('.');
      parts.push(dot > 0 ? base.slice(0, dot) : base);
    }
    segments.push(...parts.map(sanitizeSegment));
  }
  if (testName !== undefined && testName !== null && testName !== '') {
    segments.push(sanitizeSegment(testName));
  }
  if (segments.length === 0) {
    throw new Error('stripe-vcr: a cassette set needs a test file or a test name');
  }
  let name = segments.join('/');
  if (name.length > MAX_SET) {
    const hash = hash8(name);
    name = `${name.slice(0, MAX_SET - hash.length - 1).replace(/[-./]+$/, '')}-${hash}`;
  }
  return name;
}

/** The test's full name from its title chain (outermost first). */
function fullTestName(titles) {
  return titles.filter((t) => t !== undefined && t !== null && t !== '').join(' ');
}

exports.MAX_SEGMENT = MAX_SEGMENT;
exports.MAX_SET = MAX_SET;
exports.sanitizeSegment = sanitizeSegment;
exports.setNameFor = setNameFor;
exports.fullTestName = fullTestName;
