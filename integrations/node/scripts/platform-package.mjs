#!/usr/bin/env node
// Release tooling for the npm packages (see README.md, "Releasing").
//
//   node scripts/platform-package.mjs --binary PATH --out DIR [--platform P] [--arch A]
//       makes the platform package @stripe-vcr/<P>-<A> in DIR (default: this
//       machine's platform and arch), with the binary as bin/stripe-vcr
//       (--manifest-only instead of --binary: the package without its binary,
//       for installing a link to DIR before the binary is built)
//   node scripts/platform-package.mjs --pin-optional-dependencies
//       lists every platform package in this package's optionalDependencies,
//       at this package's version (done at release time only: see README.md)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const mainDir = path.join(here, '..');
const main = JSON.parse(fs.readFileSync(path.join(mainDir, 'package.json'), 'utf8'));
const { PLATFORMS, platformPackageName } = (await import('../lib/binary.cjs')).default;

const { values: args } = parseArgs({
  options: {
    binary: { type: 'string' },
    out: { type: 'string' },
    platform: { type: 'string', default: process.platform },
    arch: { type: 'string', default: process.arch },
    'manifest-only': { type: 'boolean', default: false },
    'pin-optional-dependencies': { type: 'boolean', default: false },
  },
});

if (args['pin-optional-dependencies']) {
  main.optionalDependencies = Object.fromEntries(
    PLATFORMS.map((p) => [`@stripe-vcr/${p}`, main.version]),
  );
  fs.writeFileSync(path.join(mainDir, 'package.json'), `${JSON.stringify(main, null, 2)}\n`);
  console.log(`optionalDependencies: ${Object.keys(main.optionalDependencies).join(', ')} @ ${main.version}`);
  process.exit(0);
}

if (!(args.binary || args['manifest-only']) || !args.out) {
  console.error('usage: platform-package.mjs --binary PATH|--manifest-only --out DIR [--platform P] [--arch A]');
  process.exit(2);
}
const name = platformPackageName(args.platform, args.arch);
const exe = args.platform === 'win32' ? 'stripe-vcr.exe' : 'stripe-vcr';
const out = path.resolve(args.out);
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(path.join(out, 'bin'), { recursive: true });
if (args.binary) {
  fs.copyFileSync(args.binary, path.join(out, 'bin', exe));
  fs.chmodSync(path.join(out, 'bin', exe), 0o755);
}
const manifest = {
  name,
  version: main.version,
  description: `The stripe-vcr binary for ${args.platform}-${args.arch} (used by the stripe-vcr package)`,
  license: main.license,
  os: [args.platform],
  cpu: [args.arch],
  files: ['bin/'],
  preferUnplugged: true,
};
fs.writeFileSync(path.join(out, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
fs.writeFileSync(
  path.join(out, 'README.md'),
  `# ${name}\n\nThe \`stripe-vcr\` proxy binary for ${args.platform}-${args.arch}. Install \`stripe-vcr\`, not this:\nit is one of its optional dependencies, and npm picks the one for your platform.\n`,
);
console.log(`${name}@${main.version} in ${out}`);
