#!/usr/bin/env node
// Builds dist/ so that `bin.floodgate` runs with plain node, in every way the package is installed:
//
// - `npm ci` / `npm install` in a checkout with dev dependencies (the quick start): the full,
//   type-checked build of src/ and bench/, as `npm run build` does.
// - `npm ci --omit=dev` in a fresh clone (a server without build tools): the compiler is not in
//   node_modules, so the pinned TypeScript from devDependencies is fetched with `npm exec` (into
//   npm's cache, never into node_modules) and src/ is compiled without type checking; CI checks types.
// - installing the `npm pack` tarball: dist/ is already inside and no source ships, so nothing to do.
// - `npm pack` / `npm publish`: prepack (`--clean`) has just built from scratch; prepare skips.
//
// No dependencies: it has to run before any are installed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const clean = process.argv.includes('--clean');

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error) throw result.error;
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function localCompiler() {
  try {
    return createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return undefined;
  }
}

if (!existsSync(join(root, 'src/cli.ts'))) {
  console.log('floodgate: no sources here (installed from the package), dist/ is prebuilt');
  process.exit(0);
}
const packing = process.env.npm_command === 'pack' || process.env.npm_command === 'publish';
if (packing && !clean) process.exit(0);

const tsc = localCompiler();
if (clean) {
  if (tsc === undefined) {
    console.error('floodgate: packing needs the dev dependencies (run npm ci first)');
    process.exit(1);
  }
  // A file deleted from src/ must not linger in the package as a stale build.
  rmSync(join(root, 'dist'), { recursive: true, force: true });
}
if (tsc !== undefined) {
  run(process.execPath, [tsc, '-p', 'tsconfig.json']);
} else {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const typescript = `typescript@${pkg.devDependencies.typescript}`;
  console.log(`floodgate: no compiler in node_modules; building src/ with ${typescript} (npm exec)`);
  const npm = process.env.npm_execpath;
  const [command, prefix] = npm ? [process.execPath, [npm]] : ['npm', []];
  run(command, [...prefix, 'exec', '--yes', `--package=${typescript}`, '--', 'tsc', '-p', 'tsconfig.build.json']);
}
