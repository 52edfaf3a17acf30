// The js and wasm stages of `npm test` skip the files vitest.config.ts lists as naming every engine
// they test. A listed file that starts using the default engine (new Rope, Rope.fromConfig, …)
// would then never run on the JS and wasm engines: this keeps the list honest.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ENGINE_NAMED_FILES } from '../../vitest.config.js';

const testDir = fileURLToPath(new URL('..', import.meta.url));

function testFiles(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) for (const [k, v] of testFiles(p)) found.set(k, v);
    else if (e.name.endsWith('.test.ts')) found.set(e.name.slice(0, -'.test.ts'.length), p);
  }
  return found;
}

/**
 * Where a source reaches the default engine, outside comments, template strings (code compiled or
 * run elsewhere) and double-quoted strings.
 */
export function defaultEngineUses(source: string): string[] {
  const code = source
    .replace(/`(?:\\[\s\S]|[^`\\])*`/g, '``')
    .replace(/"(?:\\.|[^"\\\n])*"/g, '""')
    .replace(/^\s*\/\/.*$/gm, '');
  return code.match(/new Rope\(|Rope\.(?:fromConfig|layersFromConfig|fromGguf\w*)\(|from 'rope-simd'/g) ?? [];
}

describe('test stages', () => {
  const files = testFiles(testDir);

  it.each(ENGINE_NAMED_FILES)('%s names its engines (the js and wasm stages skip it)', (name) => {
    const path = files.get(name);
    expect(path, `vitest.config.ts lists '${name}', which is not a test file`).toBeDefined();
    expect(defaultEngineUses(readFileSync(path!, 'utf8'))).toEqual([]);
  });

  it('finds default-engine uses', () => {
    expect(defaultEngineUses('const r = new Rope({ headDim: 8 });\nRope.fromConfig(c);')).toEqual(['new Rope(', 'Rope.fromConfig(']);
    expect(defaultEngineUses('import { Rope } from \'rope-simd\';')).toEqual(['from \'rope-simd\'']);
    expect(defaultEngineUses('const src = `new Rope({ headDim: 8 })`;\n// new Rope( in a comment\nf("new Rope(")')).toEqual([]);
  });
});
