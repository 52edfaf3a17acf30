// The native ISA registry (kernels/isas.def) as data, for the builds, the scripts and the tests.
//   node native/sources.cjs kernels   the kernel files, one per registry line, space-separated
// (binding.gyp reads its lists with `<!@(node native/sources.cjs ...)`, so this file ships with
// the package and counts in the prebuilds' source hash).
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

/** A named list of sources, paths from the package root. */
function sources(list) {
  if (list === 'kernels') return isas().map((i) => i.source);
  throw new Error(`native/sources.cjs: no list '${list}' (kernels)`);
}

module.exports = { isas, sources };

if (require.main === module) console.log(sources(process.argv[2]).join(' '));
