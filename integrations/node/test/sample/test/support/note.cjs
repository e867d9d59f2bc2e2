'use strict';
// What the suite (integrations/node/test/run.sh) checks after a run: one JSON
// line per test in $SAMPLE_NOTES, with its runner, worker and cassette set.
const fs = require('node:fs');

function note(runner, vcr) {
  if (!process.env.SAMPLE_NOTES) return;
  const worker = process.env.JEST_WORKER_ID || process.env.VITEST_POOL_ID || '0';
  const line = { runner, worker: `${runner}-${worker}`, pid: process.pid, set: vcr.set, record: vcr.record };
  fs.appendFileSync(process.env.SAMPLE_NOTES, `${JSON.stringify(line)}\n`);
}

module.exports = { note };
