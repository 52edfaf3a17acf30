// The README's usage example is examples/readme.mjs, word for word, and it runs with the results
// its comments promise.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';

const root = new URL('../..', import.meta.url);

function readmeUseBlock(): string {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Use\n'));
  const m = /```js\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README.md has no ```js block under "## Use"');
  return m[1];
}

describe('README example', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is examples/readme.mjs', () => {
    expect(readFileSync(new URL('examples/readme.mjs', root), 'utf8')).toBe(readmeUseBlock());
  });

  it('runs and prints what its comments say', async () => {
    const logs: unknown[][] = [];
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logs.push(args));
    const example = '../../examples/readme.mjs'; // a path in a variable: the .mjs has no type declarations
    await import(/* @vite-ignore */ example);
    expect(logs).toHaveLength(5);
    const [info] = logs[0] as [{ backend: string; isa: string }];
    expect(['native', 'wasm', 'js']).toContain(info.backend);
    const [roundTrip] = logs[1] as [number];
    expect(roundTrip).toBeGreaterThanOrEqual(0);
    expect(roundTrip).toBeLessThan(1e-6);
    expect(logs[2]).toEqual([64, 1]);
    const [n, s] = logs[3] as [number, number];
    expect(n).toBe(384);
    // sin(1 * invFreq_1), invFreq_1 = 500000^(-2/128), rounded to float32
    expect(s).toBe(Math.fround(Math.sin(Math.pow(500000, -2 / 128))));
    // Gemma 3: five sliding-window layers at rope_local_base_freq, then a global one at rope_theta.
    expect(logs[4]).toEqual([[10000, 10000, 10000, 10000, 10000, 1000000]]);
  });
});
