#!/usr/bin/env node
// A planted-bug run: checks that tests can fail. Replaces one exact piece of a source file (it must
// occur once), runs the given test files with vitest, puts the piece back, and prints how many
// tests failed, grouped by describe block. A plant nothing catches is a gap in the tests.
//
//   node scripts/test/plant-bug.mjs <file> <from> <to> <test files...>
//   node scripts/test/plant-bug.mjs lib/validate.ts 'if (end > length) {' 'if (end > length + 1) {' test/engines/boundaries.test.ts
//
// The piece is put back by replacing <to> with <from> in the file as it is then, so edits others
// made to the file meanwhile stay. Environment (ROPE_SIMD_BACKEND, ROPE_SIMD_ADDON) passes through.
// Exit status: 0 when at least one test failed (the plant was caught), 1 when none did, 2 on misuse.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const [file, from, to, ...tests] = process.argv.slice(2);
if (!file || from === undefined || to === undefined || tests.length === 0 || from === to) {
  console.error('usage: node scripts/test/plant-bug.mjs <file> <from> <to> <test files...>  (from != to)');
  process.exit(2);
}
const path = resolve(root, file);
const count = (s, piece) => s.split(piece).length - 1;

let at = -1; // where the plant sits, for putting the piece back when `to` is not unique (e.g. '')

function plant() {
  const text = readFileSync(path, 'utf8');
  const n = count(text, from);
  if (n !== 1) throw new Error(`${file}: ${JSON.stringify(from)} occurs ${n} times (must be once)`);
  at = text.indexOf(from);
  writeFileSync(path, text.slice(0, at) + to + text.slice(at + from.length));
}

function restore() {
  const text = readFileSync(path, 'utf8');
  // (others may have edited the file meanwhile: a unique plant is found wherever it now is)
  const i = to !== '' && count(text, to) === 1 ? text.indexOf(to) : text.slice(at, at + to.length) === to ? at : -1;
  if (i < 0) {
    console.error(`${file}: could not find the plant to put ${JSON.stringify(from)} back: restore it by hand`);
    process.exit(3);
  }
  writeFileSync(path, text.slice(0, i) + from + text.slice(i + to.length));
}

try {
  plant();
} catch (e) {
  console.error(e.message);
  process.exit(2);
}
let r;
try {
  r = spawnSync('npx', ['vitest', 'run', ...tests], { cwd: root, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
} finally {
  restore();
}
const out = `${r.stdout}${r.stderr}`;
const failed = out.split('\n').filter((l) => /^\s*×/.test(l)).map((l) => l.replace(/^\s*×\s*/, '').replace(/\s+\d+ms$/, ''));
const totals = out.split('\n').find((l) => /^\s*Tests\s/.test(l))?.trim() ?? '(no vitest summary: see below)';
console.log(`planted in ${file}: ${JSON.stringify(from)} -> ${JSON.stringify(to)}`);
console.log(totals);
const groups = new Map();
for (const f of failed) {
  const group = f.split(' > ').slice(0, -1).join(' > ') || f;
  groups.set(group, (groups.get(group) ?? 0) + 1);
}
for (const [g, n] of groups) console.log(`${String(n).padStart(5)}  ${g}`);
if (failed.length === 0 && !/^\s*Tests\s/m.test(out)) console.log(out.slice(-4000));
process.exit(failed.length > 0 ? 0 : 1);
