#!/usr/bin/env node
// CI guard: the committed prebuilds were built from the committed native sources and are the files
// the manifest recorded. Exits 1 with every problem listed and the command that fixes it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { elfProblems, listPrebuilds, prebuildsDir, readManifest, REQUIRED, root, sha256, sourceDigests, sourceHash } from './prebuild-lib.mjs';

const problems = [];
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
    const [tuple] = f.split('/');
    if (tuple.startsWith('linux-')) for (const p2 of elfProblems(p, tuple.slice(6))) problems.push(p2.replace(prebuildsDir, 'prebuilds'));
  }
  for (const f of listPrebuilds()) if (!(f in files)) problems.push(`prebuilds/${f} is not in the manifest`);
  for (const f of REQUIRED) if (!(f in files)) problems.push(`prebuilds/${f} (a committed target) is missing from the manifest`);
}

if (problems.length) {
  console.error(`check-prebuilds: FAILED\n  - ${problems.join('\n  - ')}`);
  console.error('Fix: run `npm run prebuild` (linux-x64 + linux-arm64, needs g++-aarch64-linux-gnu) and commit prebuilds/;');
  console.error('other platforms come from .github/workflows/prebuild.yml.');
  process.exit(1);
}
console.log(`check-prebuilds: ok (${Object.keys(manifest.files).length} prebuilds match sourceHash ${manifest.sourceHash.slice(0, 16)}…)`);
