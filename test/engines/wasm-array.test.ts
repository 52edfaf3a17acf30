// wasmArray (lib/engine-wasm.ts): arrays in the wasm engine's memory, rotated in place. Results
// must be the copy path's bit for bit (the same kernels on the same rows), and the hostile cases
// must be refused with nothing written: views detached by memory growth, views of the module's
// memory outside a live array (its own data: stack, caches, scratch), views after free(), arrays
// of another module's memory (ordinary memory to this one: copied, not refused).
import { afterEach, describe, expect, it } from 'vitest';
import { numberToBf16 } from '../../lib/dtype.js';
import { wasmArray, wasmExports, type WasmArray } from '../../lib/engine-wasm.js';
import { createRope } from '../../lib/rope.js';
import { rng } from '../helpers/engine-ref.js';

const HEAD_DIM = 64;
const opts = (heads: number, tokens: number) => ({ heads, positions: Array.from({ length: tokens }, (_, t) => 7 * t + 3), tokens });

function fill(a: Float32Array | Uint16Array, seed: number): void {
  const r = rng(seed);
  for (let i = 0; i < a.length; i++) a[i] = a instanceof Float32Array ? r() * 4 - 2 : numberToBf16(r() * 4 - 2);
}
const bits = (a: Float32Array | Uint16Array) => Array.from(a instanceof Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : a);

const made: WasmArray[] = [];
function alloc(length: number, dtype: 'f32' | 'bf16' = 'f32'): WasmArray {
  const a = wasmArray(length, dtype);
  made.push(a);
  return a;
}
afterEach(() => {
  for (const a of made.splice(0)) a.free();
});

describe('wasmArray', () => {
  it.each(['f32', 'bf16'] as const)('%s: apply and applyQK in place give the copy path bits (q, k, both, either)', (dtype) => {
    for (const style of ['half', 'interleaved'] as const) {
      const rope = createRope({ headDim: HEAD_DIM, style }, 'wasm');
      const tokens = 37;
      const [qn, kn] = [tokens * 4 * HEAD_DIM, tokens * 2 * HEAD_DIM];
      const ref = dtype === 'f32' ? new Float32Array(qn) : new Uint16Array(qn);
      const refK = dtype === 'f32' ? new Float32Array(kn) : new Uint16Array(kn);
      fill(ref, 1);
      fill(refK, 2);
      const o = { qHeads: 4, kHeads: 2, positions: opts(1, tokens).positions, tokens, dtype };
      const wantQ = ref.slice();
      const wantK = refK.slice();
      rope.applyQK(wantQ as Float32Array, wantK as Float32Array, o as never);
      // Every mix of in-module and ordinary arrays.
      for (const [qIn, kIn] of [[true, true], [true, false], [false, true]]) {
        const qa = alloc(qn, dtype);
        const ka = alloc(kn, dtype);
        qa.array.set(ref);
        ka.array.set(refK);
        const q = qIn ? qa.array : ref.slice();
        const k = kIn ? ka.array : refK.slice();
        rope.applyQK(q as Float32Array, k as Float32Array, o as never);
        const [gotQ, gotK] = [qIn ? qa.array : q, kIn ? ka.array : k];
        expect(bits(gotQ), `${style} q in module ${qIn}, k ${kIn}`).toEqual(bits(wantQ));
        expect(bits(gotK), `${style} q in module ${qIn}, k ${kIn}`).toEqual(bits(wantK));
      }
      const xa = alloc(qn, dtype);
      xa.array.set(ref);
      const want = ref.slice();
      rope.apply(want as Float32Array, { ...opts(4, tokens), dtype } as never);
      rope.apply(xa.array as Float32Array, { ...opts(4, tokens), dtype } as never);
      expect(bits(xa.array)).toEqual(bits(want));
    }
  });

  it('a subarray of a live array (offset rows, a token stride with gaps) is rotated in place; the gaps keep their bits', () => {
    const rope = createRope({ headDim: HEAD_DIM }, 'wasm');
    const a = alloc(3 * 2 * HEAD_DIM + 100);
    fill(a.array, 3);
    const before = a.array.slice();
    const stride = 2 * HEAD_DIM + 20;
    const view = a.array.subarray(10, 10 + 2 * stride + 2 * HEAD_DIM);
    const ref = before.slice(10, 10 + view.length);
    const o = { heads: 2, positions: [5, 6, 9], tokens: 3, tokenStride: stride };
    rope.apply(view, o as never);
    createRope({ headDim: HEAD_DIM }, 'wasm').apply(ref, o as never);
    expect(bits(a.array.subarray(10, 10 + ref.length))).toEqual(bits(ref));
    expect(bits(a.array.subarray(0, 10))).toEqual(bits(before.subarray(0, 10)));
    expect(bits(a.array.subarray(10 + ref.length))).toEqual(bits(before.subarray(10 + ref.length)));
  });

  it('memory growth detaches earlier views: a call with one is refused, the array keeps its bits, a fresh view works', () => {
    const rope = createRope({ headDim: HEAD_DIM }, 'wasm');
    const a = alloc(4 * HEAD_DIM);
    fill(a.array, 4);
    const old = a.array;
    const before = Array.from(old);
    const grownFrom = wasmExports().memory.buffer;
    alloc(16 << 20); // 64 MiB more than the module had: its memory grows
    expect(wasmExports().memory.buffer).not.toBe(grownFrom);
    expect(old.length).toBe(0);
    expect(() => rope.apply(old, opts(4, 1) as never)).toThrow(/detached/);
    expect(Array.from(a.array)).toEqual(before);
    const ref = Float32Array.from(before);
    rope.apply(a.array, opts(4, 1) as never);
    createRope({ headDim: HEAD_DIM }, 'wasm').apply(ref, opts(4, 1) as never);
    expect(bits(a.array)).toEqual(bits(ref));
  });

  it("views of the module's memory outside a live array are refused and write nothing (its own data, past the end, after free)", () => {
    const rope = createRope({ headDim: HEAD_DIM }, 'wasm');
    rope.apply(new Float32Array(2 * HEAD_DIM).fill(1), opts(2, 1) as never); // the module has a scratch area, caches
    const q = alloc(2 * HEAD_DIM); // a live array, for applyQK
    const a = alloc(2 * HEAD_DIM);
    const memory = a.array.buffer;
    const snapshot = () => new Uint8Array(memory.slice(0));
    // (The memory is ~100 MiB after the growth test: compare bytes, not element by element.)
    const same = (x: Uint8Array, y: Uint8Array) => x.length === y.length && Buffer.compare(x, y) === 0;
    // The module's first bytes (its data and stack), a view running past the array's end, a freed one.
    const low = new Float32Array(memory, 1024, 2 * HEAD_DIM);
    const past = new Float32Array(memory, a.array.byteOffset + 4 * HEAD_DIM, 2 * HEAD_DIM);
    const b = wasmArray(2 * HEAD_DIM);
    const freed = b.array;
    b.free();
    b.free(); // twice: no effect
    expect(() => b.array).toThrow(/freed/);
    for (const [name, v] of [['low', low], ['past', past], ['freed', freed]] as const) {
      const before = snapshot();
      expect(() => rope.apply(v, opts(2, 1) as never), name).toThrow(/outside any live wasmArray/);
      expect(() => rope.applyQK(q.array, v, { qHeads: 2, kHeads: 2, positions: [0], tokens: 1 } as never), name).toThrow(/outside any live wasmArray/);
      expect(same(snapshot(), before), name).toBe(true);
    }
  });

  it("another module's memory is ordinary memory to this one: rotated through the copies", () => {
    const Wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly;
    const other = new Wasm.Memory({ initial: 1 });
    const v = new Float32Array(other.buffer, 256, 3 * HEAD_DIM);
    fill(v, 5);
    const ref = v.slice();
    createRope({ headDim: HEAD_DIM }, 'wasm').apply(v, opts(3, 1) as never);
    createRope({ headDim: HEAD_DIM }, 'js').apply(ref, opts(3, 1) as never);
    for (let i = 0; i < v.length; i++) expect(Math.abs(v[i] - ref[i])).toBeLessThanOrEqual(2 ** -20);
  });

  it('checks its arguments', () => {
    for (const bad of [0, -1, 1.5, NaN, '8', 2 ** 53]) expect(() => wasmArray(bad as number)).toThrow(/length must be a positive integer/);
    expect(() => wasmArray(8, 'f64' as never)).toThrow(/dtype must be/);
    expect(() => wasmArray(2 ** 31)).toThrow(/could not allocate/); // 8 GiB of f32: more than wasm32 has
    const a = alloc(8, 'bf16');
    expect(a.array).toBeInstanceOf(Uint16Array);
    expect(Array.from(a.array)).toEqual(new Array(8).fill(0));
    expect(Object.isFrozen(a)).toBe(true);
  });
});
