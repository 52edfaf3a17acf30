#!/usr/bin/env node
// CI guard: the committed prebuilds were built from the committed native sources and are the files
// the manifest recorded, and each binary loads where Node does (Linux: glibc symbol versions <= 2.28,
// static C++ runtime; Windows: PE imports only Node-API and system DLLs). Exits 1 with every problem
// listed and the command that fixes it.
//   --binaries   only the per-binary checks (symbol versions, imports), not freshness: they stay
//                meaningful while native sources change ahead of the next `npm run prebuild`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  elfProblems, glibcSymbolProblems, listPrebuilds, peImportProblems, prebuildsDir, readManifest, REQUIRED, root, sha256, sourceDigests, sourceHash,
} from './prebuild-lib.mjs';

const problems = [];
const rel = (p) => p.replace(prebuildsDir, 'prebuilds');

/** Symbol versions / imports of one committed prebuild ("platform-arch/file"). */
function binaryProblems(f) {
  const p = join(prebuildsDir, f);
  const [tuple] = f.split('/');
  if (tuple.startsWith('linux-')) {
    const out = elfProblems(p, tuple.slice(6));
    if (!f.includes('.musl.')) out.push(...glibcSymbolProblems(p).problems);
    return out.map(rel);
  }
  // win32-x64 only: Debian's objdump reads x86-64 PE, not arm64 (win32-arm64 is load-tested by the workflow).
  if (tuple === 'win32-x64') return peImportProblems(p).problems.map(rel);
  return [];
}

if (process.argv.includes('--binaries')) {
  const files = listPrebuilds();
  for (const f of files) problems.push(...binaryProblems(f));
  for (const f of REQUIRED) if (!files.includes(f)) problems.push(`prebuilds/${f} (a committed target) is missing`);
  if (problems.length) {
    console.error(`check-prebuilds --binaries: FAILED\n  - ${problems.join('\n  - ')}\nFix: npm run prebuild (docs/maintainers/prebuilds.md)`);
    process.exit(1);
  }
  for (const f of files.filter((x) => x.startsWith('linux-') && !x.includes('.musl.'))) {
    console.log(`check-prebuilds: prebuilds/${f} needs at most GLIBC_${glibcSymbolProblems(join(prebuildsDir, f)).glibc}, no libstdc++/libgcc_s`);
  }
  for (const f of files.filter((x) => x.startsWith('win32-x64'))) {
    const pe = peImportProblems(join(prebuildsDir, f));
    console.log(`check-prebuilds: prebuilds/${f} imports ${Object.entries(pe.imports).map(([d, fns]) => `${d} (${fns.length})`).join(', ')}`);
  }
  process.exit(0);
}
let manifest = null;
try {
  manifest = readManifest();
  if (!manifest) problems.push('prebuilds/manifest.json is missing');
} catch (e) {
  problems.push(`prebuilds/manifest.json is unreadable: ${e.message}`);
}

if (manifest) {
  const hash = sourceHash(root);
  if (manifest.sourceHash !== hash) {
    // Name the files: "native/walk.cc changed" is actionable, two hashes are not.
    const now = sourceDigests(root);
    const then = manifest.sources || {};
    const changed = [
      ...Object.keys(now).filter((f) => then[f] !== undefined && then[f] !== now[f]).map((f) => `changed: ${f}`),
      ...Object.keys(now).filter((f) => then[f] === undefined).map((f) => `added: ${f}`),
      ...Object.keys(then).filter((f) => now[f] === undefined).map((f) => `removed: ${f}`),
    ];
    problems.push(
      `the native sources changed since the prebuilds were built (manifest sourceHash ${String(manifest.sourceHash).slice(0, 16)}…, ` +
        `sources now ${hash.slice(0, 16)}…)${changed.length ? ':\n      ' + changed.join('\n      ') : ''}`,
    );
  }
  const files = manifest.files || {};
  for (const [f, recorded] of Object.entries(files)) {
    const p = join(prebuildsDir, f);
    if (!existsSync(p)) {
      problems.push(`prebuilds/${f} is in the manifest but missing`);
      continue;
    }
    const actual = sha256(p);
    if (actual !== recorded) problems.push(`prebuilds/${f} has sha256 ${actual.slice(0, 16)}…, the manifest records ${String(recorded).slice(0, 16)}…`);
    problems.push(...binaryProblems(f));
  }
  for (const f of listPrebuilds()) if (!(f in files)) problems.push(`prebuilds/${f} is not in the manifest`);
  for (const f of REQUIRED) if (!(f in files)) problems.push(`prebuilds/${f} (a committed target) is missing from the manifest`);
}

if (problems.length) {
  console.error(`check-prebuilds: FAILED\n  - ${problems.join('\n  - ')}`);
  console.error('Fix: run `npm run prebuild` on linux-x64 (linux-x64, linux-arm64, win32-x64; docs/maintainers/prebuilds.md) and commit prebuilds/;');
  console.error('other platforms come from .github/workflows/prebuild.yml.');
  process.exit(1);
}
console.log(`check-prebuilds: ok (${Object.keys(manifest.files).length} prebuilds match sourceHash ${manifest.sourceHash.slice(0, 16)}…)`);
