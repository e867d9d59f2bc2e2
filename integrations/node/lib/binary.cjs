'use strict';
// Finding the stripe-vcr binary: STRIPE_VCR_BIN, then the platform package
// (@stripe-vcr/<platform>-<arch>, the esbuild / biome pattern), then PATH.

const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');

/** Platforms a release publishes a package for (`process.platform-process.arch`). */
const PLATFORMS = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64'];

function platformPackageName(platform = process.platform, arch = process.arch) {
  return `@stripe-vcr/${platform}-${arch}`;
}

function exeName(platform = process.platform) {
  return platform === 'win32' ? 'stripe-vcr.exe' : 'stripe-vcr';
}

function isExecutableFile(file) {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The platform package's binary, resolved as Node resolves packages from `dirs`. */
function fromPlatformPackage(pkg, dirs, platform) {
  for (const dir of dirs) {
    let manifest;
    try {
      manifest = createRequire(path.join(dir, 'noop.js')).resolve(`${pkg}/package.json`);
    } catch {
      continue;
    }
    const bin = path.join(path.dirname(manifest), 'bin', exeName(platform));
    if (isExecutableFile(bin)) return bin;
  }
  return undefined;
}

/**
 * Where the stripe-vcr binary is, and which of the three places it came
 * from: `{ path, source: 'STRIPE_VCR_BIN' | 'package' | 'PATH', package? }`
 * (`package`: the platform package's name). Throws an
 * error naming all three when there is none.
 */
function resolveBinary(options = {}) {
  const env = options.env || process.env;
  const platform = options.platform || process.platform;
  const arch = options.arch || process.arch;
  const fromEnv = env.STRIPE_VCR_BIN;
  if (fromEnv) {
    const file = path.resolve(fromEnv);
    if (!isExecutableFile(file)) {
      throw new Error(`stripe-vcr: STRIPE_VCR_BIN is ${fromEnv}, which is not an executable file`);
    }
    return { path: file, source: 'STRIPE_VCR_BIN' };
  }
  const pkg = platformPackageName(platform, arch);
  // From this package (its real path, as Node resolves it) and from the
  // project (for `npm install ./path/to/stripe-vcr`, a symlink).
  const dirs = options.searchFrom || [realDir(__dirname), process.cwd()];
  const packaged = fromPlatformPackage(pkg, dirs, platform);
  if (packaged) return { path: packaged, source: 'package', package: pkg };
  const exe = exeName(platform);
  for (const dir of (env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, exe);
    if (isExecutableFile(file)) return { path: file, source: 'PATH' };
  }
  throw new Error(
    'stripe-vcr: cannot find the stripe-vcr binary. Looked for\n' +
      '  1. the environment variable STRIPE_VCR_BIN (not set),\n' +
      `  2. the platform package ${pkg} (not installed${
        PLATFORMS.includes(`${platform}-${arch}`) ? `: npm install --save-dev ${pkg}` : '; none is published for this platform'
      }),\n` +
      `  3. ${exe} on PATH (not found).\n` +
      'Install one of them (from a clone of stripe-vcr: cargo install --path .), or set STRIPE_VCR_BIN=/path/to/stripe-vcr.',
  );
}

function realDir(dir) {
  try {
    return fs.realpathSync(dir);
  } catch {
    return dir;
  }
}

exports.PLATFORMS = PLATFORMS;
exports.platformPackageName = platformPackageName;
exports.resolveBinary = resolveBinary;
