// One behaviour on every runtime: what Node itself does differently between
// versions (ArrayBuffer.prototype.detached from Node 22, resizable buffers from Node 20) must not
// change what the package does. scripts/test/test-runtimes.sh runs this suite on Node 18, 22, 24, 26
// and compares Bun's and Deno's answers with Node's.
import { describe, expect, it } from 'vitest';
import { nativeAddon } from '../../lib/backend.js';
import { createRope } from '../../lib/rope.js';
import { isDetached } from '../../lib/typed-array.js';

const engines: ('js' | 'native')[] = nativeAddon ? ['js', 'native'] : ['js'];
type Resizable = ArrayBuffer & { resize(n: number): void };
const hasResize = typeof (ArrayBuffer.prototype as Partial<Resizable>).resize === 'function';

describe('isDetached: the same answer with or without ArrayBuffer.prototype.detached', () => {
  it('detached, empty, shared, non-empty', () => {
    const gone = new ArrayBuffer(8);
    structuredClone(gone, { transfer: [gone] });
    expect(isDetached(gone, 0)).toBe(true);
    expect(isDetached(new ArrayBuffer(0), 0)).toBe(false);
    expect(isDetached(new ArrayBuffer(8), 0)).toBe(false); // an empty view of a live buffer
    expect(isDetached(new SharedArrayBuffer(0), 0)).toBe(false);
    expect(isDetached(new ArrayBuffer(8), 8)).toBe(false);
    // A buffer whose own `detached` property lies does not fool it.
    const liar = new ArrayBuffer(0);
    Object.defineProperty(liar, 'detached', { value: true });
    expect(isDetached(liar, 0)).toBe(false);
  });
});

describe.each(engines)('%s engine: 0 tokens is a call that rotates nothing, on every runtime', (engine) => {
  const rope = createRope({ headDim: 8 }, engine);

  it('an empty array: apply, applyQK, applyAsync, applyQKAsync return normally; nothing else is touched', async () => {
    const backing = new Float32Array(8).fill(7);
    const empty = new Float32Array(backing.buffer, 16, 0);
    expect(rope.apply(new Float32Array(0), { heads: 1, positions: 0 })).toBeUndefined();
    expect(rope.apply(empty, { heads: 2, positions: 5 })).toBeUndefined();
    expect(rope.apply(empty, { heads: 2, positions: new Int32Array(0) })).toBeUndefined();
    expect(rope.apply(new Uint16Array(0), { heads: 1, positions: 0, dtype: 'bf16' })).toBeUndefined();
    expect(rope.applyQK(new Float32Array(0), new Float32Array(0), { qHeads: 4, kHeads: 1, positions: [] })).toBeUndefined();
    await expect(rope.applyAsync(empty, { heads: 1, positions: 0 })).resolves.toBeUndefined();
    await expect(rope.applyQKAsync(empty, new Float32Array(0), { qHeads: 1, kHeads: 1, positions: 3 })).resolves.toBeUndefined();
    expect(Array.from(backing)).toEqual(new Array(8).fill(7));
  });

  it('the other options are still checked; a detached buffer is still a TypeError', async () => {
    const empty = new Float32Array(0);
    expect(() => rope.apply(empty, { heads: 0, positions: 0 })).toThrow(/heads must be a positive integer/);
    expect(() => rope.apply(empty, { heads: 1, positions: -1 })).toThrow(RangeError);
    expect(() => rope.apply(empty, { heads: 1, positions: [1] })).toThrow(/positions.length 1 must be tokens = 0/);
    expect(() => rope.applyQK(empty, new Float32Array(8), { qHeads: 1, kHeads: 1, positions: 0 })).toThrow(/k holds 1 token .* but q holds 0 tokens/);
    const x = new Float32Array(8);
    structuredClone(x.buffer, { transfer: [x.buffer as ArrayBuffer] });
    expect(() => rope.apply(x, { heads: 1, positions: 0 })).toThrow(TypeError);
    expect(() => rope.apply(x, { heads: 1, positions: 0 })).toThrow(/^x's buffer is detached: nothing to rotate$/);
    await expect(rope.applyAsync(x, { heads: 1, positions: 0 })).rejects.toThrow(/^x's buffer is detached/);
  });

  it('a fixed view a resizable buffer shrink left out of bounds: 0 tokens as well (feature-gated: Node 20+)', () => {
    if (!hasResize) {
      // Node 18: the maxByteLength option is ignored; the buffer cannot shrink.
      const b = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(64, { maxByteLength: 128 });
      expect('resize' in b).toBe(false);
      expect(b.byteLength).toBe(64);
      return;
    }
    const buf = new (ArrayBuffer as unknown as new (n: number, o: object) => Resizable)(64, { maxByteLength: 64 });
    const x = new Float32Array(buf, 16, 8);
    new Float32Array(buf).fill(3);
    buf.resize(32);
    expect(x.length).toBe(0);
    expect(rope.apply(x, { heads: 1, positions: 0 })).toBeUndefined();
    expect(Array.from(new Float32Array(buf))).toEqual(new Array(8).fill(3));
  });
});
