#!/usr/bin/env node
// Builds the library, its tests and the example with tsc (strict) from a copy of
// clients/node in a temp dir, beside the npm packages installed in a build dir, so that
// neither node_modules nor dist/ is ever written into the source tree; then runs the tests.
//   node clients/node/test/run.js BATOND [NODE_LIB_DIR] [--bench [seconds per round]]
// --bench runs bench/overhead instead of the tests.
// NODE_LIB_DIR holds node_modules from `npm ci` of clients/node's package(-lock).json
// (default: build/node-lib beside the source tree; scripts/setup.sh makes it).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const source = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const benchAt = args.indexOf('--bench');
const bench = benchAt >= 0 ? args.splice(benchAt).slice(1) : null;
const [batond, libArg] = args;
if (!batond) {
  console.error('usage: node clients/node/test/run.js BATOND [NODE_LIB_DIR]');
  process.exit(2);
}
const lib = path.resolve(libArg || path.join(source, '..', '..', 'build', 'node-lib'));
const modules = path.join(lib, 'node_modules');
if (!fs.existsSync(path.join(modules, 'typescript'))) {
  console.log(`FAIL no npm packages in ${modules}: (cd ${lib} && npm ci) after copying ` +
              'clients/node/package.json and package-lock.json there');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'baton-node-build-'));
try {
  for (const part of ['src', 'test', 'examples', 'bench', 'tsconfig.json', 'package.json']) {
    fs.cpSync(path.join(source, part), path.join(work, part), { recursive: true });
  }
  fs.symlinkSync(modules, path.join(work, 'node_modules'), 'dir');
  const tsc = spawnSync(process.execPath, [path.join(modules, 'typescript', 'bin', 'tsc'), '-p', work],
                        { stdio: 'inherit' });
  if (tsc.status !== 0) {
    console.log('FAIL tsc --strict over src, test, examples and bench');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  const types = path.join(work, 'dist', 'src', 'index.d.ts');
  if (!fs.existsSync(types) || !fs.readFileSync(types, 'utf8').includes('Baton')) {
    console.log('FAIL tsc wrote no dist/src/index.d.ts declaring Baton');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  console.log('ok   tsc --strict built dist/ with .d.ts');
  const main = bench ? path.join(work, 'dist', 'bench', 'overhead.js') : path.join(work, 'dist', 'test', 'main.js');
  const run = spawnSync(process.execPath, [main, path.resolve(batond), ...(bench || [])], { stdio: 'inherit' });
  process.exitCode = run.status === null ? 1 : run.status;
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
