// The native source lists (sources.json) with "kernels" expanded from the ISA registry
// (kernels/isas.def), for binding.gyp, the scripts and the tests:
//   node native/sources.cjs addon     the addon's sources, space-separated (paths from the root)
//   node native/sources.cjs testing   the testing addon's (test/native/addon/binding.gyp)
//   node native/sources.cjs kernels   the kernel files alone, one per registry line
// binding.gyp reads its list with `<!@(node native/sources.cjs addon)`, so this file ships with the
// package and counts in the prebuilds' source hash (scripts/install.cjs).
'use strict';
const fs = require('fs');
const path = require('path');

const LINE = /^ROPE_ISA\((\w+), (\w+), (\w+)\)$/;

/** The registry's lines, best first: { name, table, cpu, source }. */
function isas() {
  const out = [];
  const text = fs.readFileSync(path.join(__dirname, 'kernels', 'isas.def'), 'utf8');
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('//')) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`native/kernels/isas.def: not a 'ROPE_ISA(name, table, cpu)' line: ${line}`);
    out.push({ name: m[1], table: m[2], cpu: m[3], source: `native/kernels/${m[1]}.cc` });
  }
  if (out.length === 0) throw new Error('native/kernels/isas.def lists no ISA');
  return out;
}

const LISTS = JSON.parse(fs.readFileSync(path.join(__dirname, 'sources.json'), 'utf8'));

/** A named list of sources (a key of sources.json, or 'kernels'), paths from the package root; an
 * entry naming another list stands for that list. */
function sources(list, seen = []) {
  if (list === 'kernels') return isas().map((i) => i.source);
  if (list === 'about' || !Array.isArray(LISTS[list]))
    throw new Error(`native/sources.cjs: no list '${list}' (${Object.keys(LISTS).filter((k) => k !== 'about').join(', ')}, kernels)`);
  if (seen.includes(list)) throw new Error(`native/sources.json: '${list}' includes itself`);
  return LISTS[list].flatMap((s) => (s === 'kernels' || Array.isArray(LISTS[s]) ? sources(s, [...seen, list]) : [s]));
}

module.exports = { isas, sources };

// `node native/sources.cjs LIST [--from DIR]`: DIR (from the package root) makes the paths relative
// to it, for a .gyp file in that directory.
if (require.main === module) {
  const i = process.argv.indexOf('--from');
  const from = i < 0 ? '' : process.argv[i + 1];
  const root = path.join(__dirname, '..');
  const rel = (f) => (from ? path.relative(path.join(root, from), path.join(root, f)).split(path.sep).join('/') : f);
  console.log(sources(process.argv[2]).map(rel).join(' '));
}
