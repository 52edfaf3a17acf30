// The wasm engine's own machinery (lib/engine-wasm.ts): calls larger than one piece of module
// memory, rows that do not tile their array (only rotated elements are written back, bit for bit
// elsewhere, NaN payloads included), memory growth between calls, and many Ropes sharing one
// module. Results are compared with the JS engine, within the numerics promise (test/engines/parity.test.ts).
import { describe, expect, it } from 'vitest';
import { numberToBf16, numberToF16 } from '../../lib/dtype.js';
import { wasmExports } from '../../lib/engine-wasm.js';
import { createRope } from '../../lib/rope.js';
import type { DTypeName, RopeOptions } from '../../lib/types.js';

function values(n: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 4 - 2;
  });
}

function make(dtype: DTypeName, n: number, seed: number): Float32Array | Uint16Array {
  const v = values(n, seed);
  if (dtype === 'f32') return Float32Array.from(v);
  return Uint16Array.from(v, dtype === 'f16' ? numberToF16 : numberToBf16);
}

const f32bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const ordinal16 = (h: number) => (h & 0x8000 ? -(h & 0x7fff) : h);

// Every element within 2 f32 ulp of its row's largest |value| (rows of `headDim`), or 1 ulp of a
// 16-bit dtype; returns the first element that is not.
function mismatch(dtype: DTypeName, headDim: number, want: Float32Array | Uint16Array, got: Float32Array | Uint16Array): string {
  for (let r = 0; r < want.length; r += headDim) {
    let max = 0;
    if (dtype === 'f32') for (let d = 0; d < headDim; d++) max = Math.max(max, Math.abs(want[r + d]));
    const bound = max === 0 ? 0 : 2 * 2 ** (Math.floor(Math.log2(max)) - 23);
    for (let d = 0; d < headDim; d++) {
      const i = r + d;
      const ok = dtype === 'f32' ? Math.abs(want[i] - got[i]) <= bound : Math.abs(ordinal16(want[i]) - ordinal16(got[i])) <= 1;
      if (!ok) return `element ${i}: js ${want[i]} wasm ${got[i]}`;
    }
  }
  return '';
}

describe('wasm engine', () => {
  it.each([
    ['f32', 'half'],
    ['f32', 'interleaved'],
    ['bf16', 'half'],
    ['f16', 'interleaved'],
  ] as const)('%s %s: a call of many pieces (2 x 1100 tokens, per-batch positions, q and k) matches the JS engine', (dtype, style) => {
    const options: RopeOptions = { headDim: 128, style, base: 500000 };
    const batch = 2, tokens = 1100, qHeads = 8, kHeads = 2;
    const positions = Int32Array.from({ length: batch * tokens }, (_, i) => (i * 7919) % 100000);
    const run = (engine: 'js' | 'wasm') => {
      const q = make(dtype, batch * tokens * qHeads * 128, 1);
      const k = make(dtype, batch * tokens * kHeads * 128, 2);
      createRope(options, engine).applyQK(q as Float32Array, k as Float32Array, { qHeads, kHeads, batch, layout: 'bshd', positions, dtype } as never);
      return { q, k };
    };
    const js = run('js');
    const w = run('wasm');
    expect(mismatch(dtype, 128, js.q, w.q)).toBe('');
    expect(mismatch(dtype, 128, js.k, w.k)).toBe('');
    expect(w.q).not.toEqual(make(dtype, w.q.length, 1)); // it did rotate
  });

  it('partial rotary and a token stride with gaps: rotated elements match JS, all others keep their bits (NaN payloads too)', () => {
    const headDim = 16, rotaryDim = 8, heads = 3, tokens = 700, stride = heads * headDim + 5;
    const data = make('f32', tokens * stride, 3) as Float32Array;
    const bits = f32bits(data);
    // Signalling NaNs with payloads in every element no row rotates.
    for (let t = 0; t < tokens; t++)
      for (let e = 0; e < stride; e++) if (e >= heads * headDim || e % headDim >= rotaryDim) bits[t * stride + e] = 0x7f800001 + ((t + e) & 0xff);
    const before = Uint32Array.from(bits);
    const js = data.slice();
    createRope({ headDim, rotaryDim }, 'js').apply(js, { heads, tokenStride: stride, tokens, positions: 3 });
    createRope({ headDim, rotaryDim }, 'wasm').apply(data, { heads, tokenStride: stride, tokens, positions: 3 });
    let rotated = 0;
    for (let t = 0; t < tokens; t++)
      for (let e = 0; e < stride; e++) {
        const i = t * stride + e;
        if (e >= heads * headDim || e % headDim >= rotaryDim) expect(bits[i]).toBe(before[i]);
        else {
          rotated++;
          expect(Math.abs(data[i] - js[i])).toBeLessThanOrEqual(2 * 2 ** -22);
        }
      }
    expect(rotated).toBe(tokens * heads * rotaryDim);
  });

  it("'bhsd' layout (not token-major: one piece per call), batch 3", () => {
    const headDim = 64, heads = 4, tokens = 50, batch = 3;
    const js = make('bf16', batch * heads * tokens * headDim, 4) as Uint16Array;
    const w = js.slice();
    const opts = { heads, batch, layout: 'bhsd', positions: 1000, dtype: 'bf16' } as const;
    createRope({ headDim }, 'js').apply(js, opts);
    createRope({ headDim }, 'wasm').apply(w, opts);
    expect(mismatch('bf16', headDim, js, w)).toBe('');
  });

  it('module memory grows between calls (views renewed): small, large, small again, on several Ropes', () => {
    const x = wasmExports();
    const ropes = [createRope({ headDim: 64 }, 'wasm'), createRope({ headDim: 64, style: 'interleaved' }, 'wasm')];
    const sizeBefore = x.memory.buffer.byteLength;
    for (const tokens of [3, 40000, 5]) {
      for (const rope of ropes) {
        const style = rope.style;
        const a = make('f32', tokens * 2 * 64, tokens) as Float32Array;
        const b = a.slice();
        rope.apply(a, { heads: 2, positions: 17 });
        createRope({ headDim: 64, style }, 'js').apply(b, { heads: 2, positions: 17 });
        expect(mismatch('f32', 64, b, a)).toBe('');
      }
    }
    expect(x.memory.buffer.byteLength).toBeGreaterThan(sizeBefore);
  });

  it('the inverse undoes the rotation (round trip within float32 rounding)', () => {
    const rope = createRope({ headDim: 32 }, 'wasm');
    const x = make('f32', 300 * 4 * 32, 5) as Float32Array;
    const orig = x.slice();
    rope.apply(x, { heads: 4, positions: 123456 });
    rope.apply(x, { heads: 4, positions: 123456, inverse: true });
    for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - orig[i])).toBeLessThanOrEqual(4e-6);
  });
});
