// Type-level API checks (vitest typecheck: these compile or fail, they do not run).
import { describe, expectTypeOf, it } from 'vitest';
import { Rope, backendInfo, type ApplyOptions, type ApplyOptionsF32, type ApplyQKOptions, type BackendInfo, type Float16ArrayLike, type HFConfig } from '../../lib/index.js';

const rope = new Rope({ headDim: 8 });
const f32 = new Float32Array(16);
const u16 = new Uint16Array(16);
declare const f16arr: Float16Array;

describe('apply overloads', () => {
  it('Float32Array: dtype optional and f32 only', () => {
    expectTypeOf(rope.apply).toBeCallableWith(f32, { heads: 1, positions: 0 });
    expectTypeOf(rope.apply).toBeCallableWith(f32, { heads: 1, positions: 0, dtype: 'f32' });
    expectTypeOf<ApplyOptionsF32['dtype']>().toEqualTypeOf<'f32' | undefined>();
    // @ts-expect-error a Float32Array holds f32, not bf16
    rope.apply(f32, { heads: 1, positions: 0, dtype: 'bf16' });
  });

  it('Uint16Array: dtype required, f16 or bf16', () => {
    expectTypeOf(rope.apply).toBeCallableWith(u16, { heads: 1, positions: 0, dtype: 'bf16' });
    expectTypeOf(rope.apply).toBeCallableWith(u16, { heads: 1, positions: [0, 1], dtype: 'f16' });
    // @ts-expect-error Uint16Array bits are not self-describing: dtype is required
    rope.apply(u16, { heads: 1, positions: 0 });
    // @ts-expect-error and it is never f32
    rope.apply(u16, { heads: 1, positions: 0, dtype: 'f32' });
  });

  it('Float16Array: dtype optional, f16 only', () => {
    expectTypeOf(rope.apply).toBeCallableWith(f16arr, { heads: 1, positions: 0 });
    // @ts-expect-error a Float16Array is f16
    rope.apply(f16arr, { heads: 1, positions: 0, dtype: 'bf16' });
  });

  it('positions are required; other arrays are refused', () => {
    // @ts-expect-error positions has no default (a forgotten offset is the classic KV-cache bug)
    rope.apply(f32, { heads: 1 });
    // @ts-expect-error Float64Array is not a supported storage type
    rope.apply(new Float64Array(16), { heads: 1, positions: 0 });
    // @ts-expect-error layouts are 'shd' | 'bshd' | 'bhsd'
    rope.apply(f32, { heads: 1, positions: 0, layout: 'sbhd' });
  });

  it('return types', () => {
    expectTypeOf(rope.apply(f32, { heads: 1, positions: 0 })).toEqualTypeOf<void>();
    expectTypeOf(rope.applyAsync(f32, { heads: 1, positions: 0 })).toEqualTypeOf<Promise<void>>();
    expectTypeOf(rope.invFreq).toEqualTypeOf<Float64Array>();
    expectTypeOf(rope.cosSin([1, 2]).cos).toEqualTypeOf<Float32Array>();
    expectTypeOf(backendInfo).toEqualTypeOf<BackendInfo>();
  });
});

describe('applyQK overloads', () => {
  it('q and k share one storage type; Uint16Array needs dtype', () => {
    expectTypeOf(rope.applyQK).toBeCallableWith(f32, f32, { qHeads: 2, kHeads: 1, positions: 0 });
    expectTypeOf(rope.applyQKAsync).toBeCallableWith(u16, u16, { qHeads: 2, kHeads: 1, positions: 0, dtype: 'bf16' });
    // @ts-expect-error dtype is required for Uint16Array q and k
    rope.applyQK(u16, u16, { qHeads: 2, kHeads: 1, positions: 0 });
    // @ts-expect-error q and k must be the same kind of array
    rope.applyQK(f32, u16, { qHeads: 2, kHeads: 1, positions: 0, dtype: 'bf16' });
  });
});

describe('named option types are the ones the methods accept', () => {
  it('ApplyOptions / ApplyQKOptions default to Float32Array; <Uint16Array> needs dtype', () => {
    const o: ApplyQKOptions = { qHeads: 2, kHeads: 1, positions: 0 };
    rope.applyQK(f32, f32, o);
    const a: ApplyOptions = { heads: 1, positions: [0, 1] };
    rope.apply(f32, a);
    const b: ApplyOptions<Uint16Array> = { heads: 1, positions: 0, dtype: 'bf16' };
    rope.apply(u16, b);
    // @ts-expect-error ApplyOptions<Uint16Array> requires dtype
    const missing: ApplyOptions<Uint16Array> = { heads: 1, positions: 0 };
    expectTypeOf(missing).not.toBeAny();
  });

  it('Float16ArrayLike is the lib Float16Array where the lib has it', () => {
    expectTypeOf<Float16ArrayLike>().toEqualTypeOf<Float16Array>();
  });

  it('fromConfig takes an HFConfig open to unknown keys', () => {
    const c: HFConfig = { model_type: 'llama', head_dim: 128, rope_theta: 5e5, torch_dtype: 'bfloat16' };
    expectTypeOf(Rope.fromConfig).toBeCallableWith(c);
    // @ts-expect-error rope_theta is a number
    Rope.fromConfig({ head_dim: 128, rope_theta: '10000' });
  });
});

describe('applyQK with a KV cache', () => {
  const kc16 = new Uint16Array(64);
  const kc32 = new Float32Array(64);
  const slots = new Int32Array(2);

  it("the cache's dtype is required for a Uint16Array cache, optional and 'f32' for a Float32Array one", () => {
    rope.applyQK(f32, f32, { qHeads: 1, kHeads: 1, positions: 0, v: f32, cache: { k: kc16, v: kc16, slots, dtype: 'bf16' } });
    rope.applyQK(f32, f32, { qHeads: 1, kHeads: 1, positions: 0, v: f32, cache: { k: kc32, v: kc32, slots: 3, layout: 'hnd' } });
    rope.applyQK(u16, u16, { qHeads: 1, kHeads: 1, positions: 0, dtype: 'f16', v: u16, cache: { k: kc32, v: kc32, slots, dtype: 'f32' } });
    rope.applyQK(f32, f32, { qHeads: 1, kHeads: 1, positions: 0, cache: { k: kc16, slots, dtype: 'f16' } });
    rope.prepare({ qHeads: 1, kHeads: 1 }).applyQK(f32, f32, 0, { v: f32, cache: { k: kc16, v: kc16, slots: 0, dtype: 'bf16' } });
    // @ts-expect-error a Uint16Array cache's bits are not self-describing: dtype is required
    rope.applyQK(f32, f32, { qHeads: 1, kHeads: 1, positions: 0, v: f32, cache: { k: kc16, v: kc16, slots } });
    // @ts-expect-error a Float32Array cache holds f32
    rope.applyQK(f32, f32, { qHeads: 1, kHeads: 1, positions: 0, v: f32, cache: { k: kc32, v: kc32, slots, dtype: 'bf16' } });
    // @ts-expect-error cache.v is cache.k's kind of array
    rope.applyQK(f32, f32, { qHeads: 1, kHeads: 1, positions: 0, v: f32, cache: { k: kc32, v: kc16, slots, dtype: 'f32' } });
  });

  it('v is k\'s kind of array; slots an Int32Array or a number; layouts nhd | hnd', () => {
    // @ts-expect-error v holds k's dtype
    rope.applyQK(f32, f32, { qHeads: 1, kHeads: 1, positions: 0, v: u16, cache: { k: kc32, v: kc32, slots } });
    // @ts-expect-error slots are an Int32Array (one per token) or a number (the first of a run)
    rope.applyQK(f32, f32, { qHeads: 1, kHeads: 1, positions: 0, v: f32, cache: { k: kc32, v: kc32, slots: [0, 1] } });
    // @ts-expect-error FlashInfer's words: 'nhd' or 'hnd'
    rope.applyQK(f32, f32, { qHeads: 1, kHeads: 1, positions: 0, v: f32, cache: { k: kc32, v: kc32, slots, layout: 'shd' } });
    // @ts-expect-error the cache needs its slots
    rope.applyQK(f32, f32, { qHeads: 1, kHeads: 1, positions: 0, v: f32, cache: { k: kc32, v: kc32 } });
  });
});
