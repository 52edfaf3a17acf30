// The contracts between lib/ and native/ that no compiler sees: the descriptor's slots (lib/abi.ts
// <-> native/abi.h), the wasm module's extra slots (lib/engine-wasm.ts <-> native/wasm/entry.cc),
// dtype and style codes (lib/types.ts <-> native/kernels/kernels.h), the limits (lib/limits.ts <->
// native/call_limits.h) and the refusals both sides word alike. Each side is parsed from its source,
// generically: a slot, code or limit added on one side only fails here by name.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (f: string) => readFileSync(join(root, f), 'utf8');
const noComments = (s: string) => s.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');

type Scope = Map<string, number>;

// An integer expression of numbers, names already in scope, + - * ** << and parentheses (casts like
// int64_t(1) and double(x) and namespaces like abi:: read as nothing).
function evaluate(expr: string, scope: Scope, where: string): number {
  const e = expr
    .replace(/\b(?:int64_t|int32_t|int|double|uint64_t)\s*\(/g, '(')
    .replace(/\b\w+::/g, '')
    .replace(/\b([A-Za-z_]\w*)\b/g, (name) => {
      const v = scope.get(name);
      if (v === undefined) throw new Error(`${where}: '${name}' in '${expr}' is not a known constant`);
      return `(${v})`;
    })
    .replace(/(\([^()]*\)|\d+)\s*<<\s*(\([^()]*\)|\d+)/g, '($1 * 2 ** $2)');
  if (!/^[\d\s()+\-*.]+$/.test(e)) throw new Error(`${where}: cannot read '${expr}'`);
  return Function(`return (${e});`)() as number;
}

/** TypeScript: `[export] const NAME = <expr>;` whose name matches `names`. */
function tsConstants(file: string, names: RegExp, scope: Scope = new Map()): Scope {
  const out: Scope = new Map();
  for (const m of noComments(read(file)).matchAll(/^(?:export )?const ([A-Z][A-Z0-9_]*) = ([^;]+);/gm)) {
    if (!names.test(m[1])) continue;
    const v = evaluate(m[2], new Map([...scope, ...out]), `${file} ${m[1]}`);
    out.set(m[1], v);
  }
  return out;
}

/** C++: every `kName = <expr>` (enumerators, constexpr declarations, comma lists). */
function cppConstants(file: string, scope: Scope = new Map()): Scope {
  const out: Scope = new Map();
  for (const m of noComments(read(file)).matchAll(/\b(k[A-Z]\w*)\s*=\s*([^,;{}\n]+)/g)) {
    out.set(m[1], evaluate(m[2].trim(), new Map([...scope, ...out]), `${file} ${m[1]}`));
  }
  return out;
}

/** Pairs TS NAME_PARTS (after `prefix`) with C++ kNameParts, case and underscores aside. */
function pair(ts: Scope, cpp: Scope, prefix: RegExp): { onlyTs: string[]; onlyCpp: string[]; differ: string[] } {
  const key = (n: string) => n.toLowerCase().replace(/_/g, '');
  const byKey = new Map([...cpp].map(([n, v]) => [key(n.slice(1)), [n, v] as const]));
  const onlyTs: string[] = [], differ: string[] = [];
  const seen = new Set<string>();
  for (const [n, v] of ts) {
    const c = byKey.get(key(n.replace(prefix, '')));
    if (!c) onlyTs.push(n);
    else {
      seen.add(c[0]);
      if (c[1] !== v) differ.push(`${n} = ${v} but ${c[0]} = ${c[1]}`);
    }
  }
  return { onlyTs, onlyCpp: [...cpp.keys()].filter((n) => !seen.has(n)), differ };
}

describe('cross-language contracts', () => {
  it('the call descriptor: every slot of lib/abi.ts is native/abi.h\'s, same index, and back', () => {
    const ts = tsConstants('lib/abi.ts', /^(DESC|T)_/);
    const cpp = cppConstants('native/abi.h');
    expect(ts.size).toBeGreaterThanOrEqual(15); // (the parser found the slots)
    expect(pair(ts, cpp, /^(DESC|T)_/)).toEqual({ onlyTs: [], onlyCpp: [], differ: [] });
  });

  it('the wasm descriptor: lib/engine-wasm.ts\'s D_* slots are native/wasm/entry.cc\'s', () => {
    const abi = tsConstants('lib/abi.ts', /^(DESC|T)_/);
    const ts = tsConstants('lib/engine-wasm.ts', /^D_/, abi);
    const cpp = cppConstants('native/wasm/entry.cc', cppConstants('native/abi.h'));
    expect(ts.size).toBeGreaterThanOrEqual(7);
    expect(pair(ts, cpp, /^D_/)).toEqual({ onlyTs: [], onlyCpp: [], differ: [] });
    // entry.cc reads the shared slots through abi.h's names, never by number.
    expect(noComments(read('native/wasm/entry.cc'))).not.toMatch(/\bd\[\s*\d|\bat \+ \d/);
  });

  it('dtype and style codes: lib/types.ts and kernels.h', () => {
    const kernels = cppConstants('native/kernels/kernels.h');
    const pick = (names: string[]) => new Map(names.map((n) => [n, kernels.get(n)!]));
    const dtypes = [...kernels.keys()].filter((n) => /^kF\d|^kBF\d/.test(n));
    const styles = [...kernels.keys()].filter((n) => n === 'kHalf' || n === 'kInterleaved');
    expect(pair(tsConstants('lib/types.ts', /^DTYPE_/), pick(dtypes), /^DTYPE_/)).toEqual({ onlyTs: [], onlyCpp: [], differ: [] });
    expect(pair(tsConstants('lib/types.ts', /^STYLE_/), pick(styles), /^STYLE_/)).toEqual({ onlyTs: [], onlyCpp: [], differ: [] });
    expect(kernels.get('kDTypeCount')).toBe(dtypes.length);
  });

  it('limits: lib/limits.ts and native/call_limits.h state the same numbers under the same names', () => {
    const ts = tsConstants('lib/limits.ts', /./);
    expect(ts.get('MAX_THREADS')).toBe(1024);
    expect(pair(ts, cppConstants('native/call_limits.h'), /^$/)).toEqual({ onlyTs: [], onlyCpp: [], differ: [] });
  });

  it('the limits are used, not restated: no literal copy of one in lib/ or the binding', () => {
    const found: string[] = [];
    const files = ['lib/validate.ts', 'lib/rope.ts', 'lib/step.ts', 'lib/rope-options.ts', 'lib/positions.ts', 'lib/abi.ts',
      'native/binding/native_rope.cc', 'native/binding/call_args.cc', 'native/binding/step.cc', 'native/binding/args.h', 'native/binding/testing.cc', 'native/rope.h'];
    for (const f of files) {
      const text = noComments(read(f));
      for (const lit of [/\b1024\b/, /2 \*\* (21|24|31)\b/, /<< (21|24|31)\b/, /\b2097152\b/, /\b8192\b/, /\b16777216\b/])
        if (lit.test(text)) found.push(`${f}: ${lit}`);
    }
    expect(found).toEqual([]);
  });

  it('q/k overlap refusals: the binding throws lib/validate.ts\'s words', () => {
    const v = noComments(read('lib/validate.ts'));
    const str = (name: string) => {
      const m = new RegExp(`const ${name} =\\s*'([^']*)'`).exec(v);
      if (!m) throw new Error(`lib/validate.ts: no ${name}`);
      return m[1];
    };
    // C++ literals split over lines read as one.
    const native = noComments(read('native/binding/call_args.cc')).replace(/"\s*\n\s*"/g, '');
    expect(native).toContain(`"${str('Q_K_SAME_ARRAY')} (q and k overlap)"`);
    expect(native).toContain(`"${str('Q_K_OVERLAP')}"`);
  });
});
