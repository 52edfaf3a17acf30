#!/usr/bin/env node
// `npm run prebuild`: rebuilds the committed prebuilds and writes prebuilds/manifest.json.
// On a linux-x64 Debian machine, one command builds linux-x64 and linux-arm64 (glibc <= 2.28, static
// C++ runtime) and win32-x64 (mingw-w64) with the cross toolchains of scripts/prebuild/prebuild-cross.mjs
// (fetched or installed on first use; docs/maintainers/prebuilds.md). Elsewhere (the CI workflow) it builds the
// host with prebuildify (--napi --strip, node-gyp backend).
//   node scripts/prebuild/prebuild.mjs [--targets linux-x64,linux-arm64,win32-x64]
//   node scripts/prebuild/prebuild.mjs --merge DIR...   (CI: add the artifacts of other platforms' jobs)
// The build runs in a scratch copy of the sources (never the shared build/). Every binary is checked
// before it replaces anything: ELF header, glibc symbol versions / PE imports, and the host one loads.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { buildLinuxGnu, buildWin32, ensureApt } from './prebuild-cross.mjs';
import {
  elfProblems, glibcSymbolProblems, peImportProblems, listPrebuilds, manifestPath, prebuildsDir, readManifest, root, sha256, sourceDigests, sourceFiles, sourceHash,
} from './prebuild-lib.mjs';

const log = (msg) => console.log(`prebuild: ${msg}`);
function fail(msg) {
  console.error(`prebuild: error: ${msg}`);
  process.exit(1);
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const isMusl = process.platform === 'linux' && existsSync('/etc/alpine-release');
const hostKey = `${process.platform}-${process.arch}${isMusl ? '-musl' : ''}`;

// What a linux-x64 machine builds with the cross toolchains (all three, the host one included, so
// that linux-x64 gets the old-glibc sysroot too): target -> file under prebuilds/.
const CROSS = {
  'linux-x64': 'linux-x64/rope-simd.glibc.node',
  'linux-arm64': 'linux-arm64/rope-simd.glibc.node',
  'win32-x64': 'win32-x64/rope-simd.node',
};
const crossHost = hostKey === 'linux-x64' && !process.env.ROPE_SIMD_PREBUILDIFY;

/** "linux-x64/rope-simd.musl.node" -> "linux-x64-musl": which build produced a file. */
const targetKeyOf = (file) => file.split('/')[0] + (file.includes('.musl.') ? '-musl' : '');

function firstLine(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', shell: process.platform === 'win32' });
  return r.status === 0 ? r.stdout.split('\n')[0].trim() : null;
}

// Build flags must stay baseline (the kernels pick their ISA in the source): no -march=native etc.
function checkBaselineFlags(buildDir) {
  const bad = /-march=native|-mtune=native|-mcpu=native|(^|\s)-mavx|(^|\s)-mfma|\/arch:AVX/;
  const found = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/(\.mk|Makefile|\.vcxproj|\.ninja|config\.gypi)$/.test(e.name)) {
        const text = readFileSync(p, 'utf8');
        text.split('\n').forEach((line, n) => bad.test(line) && found.push(`${relative(buildDir, p)}:${n + 1}: ${line.trim()}`));
      }
    }
  };
  walk(buildDir);
  if (found.length) fail(`non-baseline ISA flags in the build:\n  ${found.join('\n  ')}`);
}

/** Checks a freshly built prebuild; fails the run on any problem. Returns what glibc it needs. */
function checkBinary(key, path) {
  const [platform, arch] = key.split('-');
  const problems = [];
  let requires;
  if (platform === 'linux') {
    problems.push(...elfProblems(path, arch));
    if (!key.endsWith('-musl')) {
      const g = glibcSymbolProblems(path);
      problems.push(...g.problems);
      requires = { glibc: g.glibc };
      log(`${key}: newest symbol version GLIBC_${g.glibc}`);
    }
  } else if (key === 'win32-x64' && crossHost) {
    const pe = peImportProblems(path);
    problems.push(...pe.problems);
    log(`${key}: imports ${Object.entries(pe.imports).map(([d, f]) => `${d} (${f.length})`).join(', ')}`);
  }
  if (problems.length) fail(problems.join('\n'));
  return requires;
}

async function buildCross(key, srcDir, outDir) {
  const file = CROSS[key];
  const out = join(outDir, 'prebuilds', file);
  mkdirSync(dirname(out), { recursive: true });
  log(`building ${key} (cross)`);
  const { compiler } = key === 'win32-x64' ? await buildWin32(srcDir, out) : await buildLinuxGnu(key.split('-')[1], srcDir, out);
  const requires = checkBinary(key, out);
  return { file, toolchain: { compiler, node: process.version, builtOn: hostKey, requires } };
}

function buildTarget(key, srcDir, outDir) {
  const [platform, arch] = key.split('-');
  if (key !== hostKey) fail(`cannot build ${key} on ${hostKey} (known here: ${crossHost ? Object.keys(CROSS).join(', ') : hostKey})`);
  const env = { ...process.env };
  const prefix = dirname(dirname(process.execPath));
  if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) env.npm_config_nodedir = prefix;
  const args = [join(root, 'node_modules', 'prebuildify', 'bin.js'), '--napi', '--strip', `--target=node@${process.versions.node}`,
    `--arch=${arch}`, `--out=${outDir}`];
  if (platform === 'linux') args.push('--tag-libc'); // glibc and musl builds share prebuilds/linux-x64
  const compiler = process.platform === 'win32' ? 'MSVC (node-gyp default)'
    : firstLine(env.CXX || (process.platform === 'darwin' ? 'c++' : 'g++'), ['--version']);
  log(`building ${key} with ${compiler}`);
  rmSync(join(srcDir, 'build'), { recursive: true, force: true });
  const r = spawnSync(process.execPath, args, { cwd: srcDir, env, stdio: 'inherit' });
  if (r.status !== 0) fail(`prebuildify for ${key} exited with ${r.status ?? r.signal}`);
  checkBaselineFlags(join(srcDir, 'build'));
  const tuple = `${platform}-${arch}`;
  const files = readdirSync(join(outDir, 'prebuilds', tuple))
    .filter((f) => f.endsWith('.node') && targetKeyOf(`${tuple}/${f}`) === key)
    .map((f) => `${tuple}/${f}`);
  if (files.length !== 1) fail(`expected one prebuild for ${key}, found: ${files.join(', ') || 'none'}`);
  const requires = checkBinary(key, join(outDir, 'prebuilds', files[0]));
  return { file: files[0], toolchain: { compiler, node: process.version, builtOn: hostKey,
    prebuildify: pkgVersion('prebuildify'), nodeGyp: pkgVersion('node-gyp'), requires } };
}

const pkgVersion = (name) => JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;

// node-gyp-build, as the package will use it, must pick and load the host prebuild with no build/.
function checkHostLoads(outDir) {
  writeFileSync(join(outDir, 'package.json'), JSON.stringify({ name: pkg.name }));
  const code = `const ngb = require(${JSON.stringify(join(root, 'node_modules', 'node-gyp-build'))});
    const file = ngb.path(${JSON.stringify(outDir)}); const a = require(file);
    console.log(JSON.stringify({ file, isa: a.isa(), supported: a.supportedIsas() }));`;
  const env = { ...process.env, PREBUILDS_ONLY: '1' };
  delete env.ROPE_SIMD_ISA;
  const r = spawnSync(process.execPath, ['-e', code], { env, encoding: 'utf8' });
  if (r.status !== 0) fail(`the ${hostKey} prebuild does not load through node-gyp-build:\n${r.stderr}`);
  const info = JSON.parse(r.stdout);
  log(`node-gyp-build loads ${relative(outDir, info.file)}: isa ${info.isa} (supported: ${info.supported.join(', ')})`);
}

/** Puts new files into prebuilds/, drops what no longer fits the sources, writes the manifest. */
function install(hash, added) {
  const old = readManifest();
  const replaced = new Set(added.map((a) => targetKeyOf(a.file)));
  const toolchain = {};
  for (const f of listPrebuilds()) {
    const key = targetKeyOf(f);
    const fits = old && old.sourceHash === hash && old.files?.[f] === sha256(join(prebuildsDir, f));
    if (replaced.has(key) || !fits) {
      if (!replaced.has(key)) log(`removing prebuilds/${f}: not built from these sources (linux: npm run prebuild; others: .github/workflows/prebuild.yml)`);
      rmSync(join(prebuildsDir, f));
    } else if (old.toolchain?.[key]) {
      toolchain[key] = old.toolchain[key];
    }
  }
  for (const a of added) {
    mkdirSync(dirname(join(prebuildsDir, a.file)), { recursive: true });
    cpSync(a.from, join(prebuildsDir, a.file));
    toolchain[targetKeyOf(a.file)] = a.toolchain;
  }
  for (const d of readdirSync(prebuildsDir)) {
    const p = join(prebuildsDir, d);
    if (statSync(p).isDirectory() && readdirSync(p).length === 0) rmSync(p, { recursive: true });
  }
  const files = Object.fromEntries(listPrebuilds().map((f) => [f, sha256(join(prebuildsDir, f))]));
  const manifest = {
    sourceHash: hash,
    napiVersion: pkg.binary?.napi_versions?.[0] ?? null,
    built: new Date().toISOString(),
    files,
    toolchain,
    sources: sourceDigests(),
  };
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  for (const [f, h] of Object.entries(files)) log(`prebuilds/${f}  sha256 ${h.slice(0, 16)}…`);
  log(`wrote prebuilds/manifest.json (sourceHash ${hash.slice(0, 16)}…)`);
}

async function build(keys) {
  const stage = mkdtempSync(join(tmpdir(), 'rope-simd-prebuild-'));
  try {
    // A private copy of exactly the files sourceHash covers, so the hash recorded is the hash built.
    const srcDir = join(stage, 'src');
    for (const f of [...sourceFiles(root), 'package.json']) cpSync(join(root, f), join(srcDir, f), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(srcDir, 'node_modules'), process.platform === 'win32' ? 'junction' : 'dir');
    const hash = sourceHash(srcDir);
    const outDir = join(stage, 'out');
    if (crossHost) ensureApt();
    const added = [];
    for (const key of keys) {
      const b = crossHost && CROSS[key] ? await buildCross(key, srcDir, outDir) : buildTarget(key, srcDir, outDir);
      added.push({ file: b.file, from: join(outDir, 'prebuilds', b.file), toolchain: { ...b.toolchain, built: new Date().toISOString() } });
    }
    if (keys.includes(hostKey)) checkHostLoads(outDir);
    if (sourceHash(root) !== hash) fail('native sources changed while building; nothing was replaced, run `npm run prebuild` again');
    install(hash, added);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

// CI: each platform job uploads its prebuilds/ (with its manifest); this adds them to ours.
function merge(dirs) {
  const hash = sourceHash(root);
  const added = [];
  for (const dir of dirs) {
    const m = readManifest(join(dir, 'manifest.json'));
    if (!m) fail(`${dir}/manifest.json not found`);
    if (m.sourceHash !== hash) fail(`${dir} was built from other sources (sourceHash ${m.sourceHash.slice(0, 16)}…, here ${hash.slice(0, 16)}…)`);
    for (const [f, h] of Object.entries(m.files)) {
      if (sha256(join(dir, f)) !== h) fail(`${dir}/${f} does not match its manifest's sha256`);
      // Each job also carries the prebuilds it checked out: only what it built itself on that
      // platform (toolchain.builtOn is the target) is news; the rest were built here.
      if (m.toolchain?.[targetKeyOf(f)]?.builtOn !== targetKeyOf(f)) continue;
      const here = join(prebuildsDir, f);
      if (existsSync(here) && sha256(here) === h) continue;
      const other = added.find((a) => a.file === f);
      if (other) fail(`${f} differs between ${dirname(dirname(other.from))} and ${dir}`);
      added.push({ file: f, from: join(dir, f), toolchain: m.toolchain?.[targetKeyOf(f)] ?? null });
      log(`merging ${f} from ${dir}`);
    }
  }
  install(hash, added);
}

const argv = process.argv.slice(2);
if (argv[0] === '--merge') {
  merge(argv.slice(1));
} else {
  const t = argv.find((a) => a.startsWith('--targets'));
  const list = t ? (t.includes('=') ? t.split('=')[1] : argv[argv.indexOf(t) + 1]) : null;
  const keys = list ? list.split(',') : crossHost ? Object.keys(CROSS) : [hostKey];
  build(keys).catch((e) => fail(e.message));
}
