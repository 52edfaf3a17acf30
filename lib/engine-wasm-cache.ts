// The wasm engine's cache write (docs/guide/kv-cache.md): after the engine rotated q, pieces of the
// tokens' k and v rows are copied into the module, rotated and converted there by the same walk and
// cache row kernels as the addon (native/wasm/entry.cc rope_apply_cache: exact, the rounding of
// every other engine) into compact rows [tokens, kHeads, headDim] of the cache's dtype, and those
// are copied to each token's slot (-1: none). Copies in and out, as the engine's other calls.
import { DESC_ATTENTION_SCALING, DESC_INVERSE, DESC_K, DESC_POS_OFFSET, DESC_POS_ROW_STRIDE, DESC_TOKENS, T_DTYPE, T_HEADS, T_HEAD_STRIDE, T_TOKEN_STRIDE } from './abi.js';
import type { CacheWriteFn } from './engine-js-cache.js';
import type { CallPlan, RopeGeometry } from './types.js';

export interface WasmCacheExports {
  memory: { readonly buffer: ArrayBuffer };
  rope_apply_cache(handle: number, desc: number): number;
}

/** What the writer needs of one wasm engine: its handle, its descriptor area (slots.count doubles,
 * then invFreq, which the engine's q call has just written), the module's own descriptor slots
 * (lib/engine-wasm.ts's D_*) and its scratch area. */
export interface WasmCacheContext {
  x: WasmCacheExports;
  handle: number;
  desc: number;
  invFreqAt: number;
  slots: { kPtr: number; kLength: number; positionsPtr: number; invFreqPtr: number; cacheDtype: number; cacheKPtr: number; cacheVPtr: number; vPtr: number; vDtype: number; count: number };
  scratch(bytes: number): number;
}

const PIECE_BYTES = 1 << 20;
const align16 = (n: number): number => (n + 15) & ~15;

type Arr = Float32Array | Uint16Array;
const viewOf = (buf: ArrayBuffer, like: Arr, at: number, n: number): Arr => (like.BYTES_PER_ELEMENT === 4 ? new Float32Array(buf, at, n) : new Uint16Array(buf, at, n));

export function createWasmCacheWriter(ctx: WasmCacheContext, geometry: RopeGeometry): CacheWriteFn {
  const { x, handle, desc, invFreqAt, slots: S } = ctx;
  const headDim = geometry.headDim;
  const packed = new Float64Array(S.count);
  const write = (plan: CallPlan): void => {
    const c = plan.cache!;
    const k = plan.k!;
    const v = c.v;
    const tokens = plan.tokens;
    const heads = k.heads;
    const row = heads * headDim;
    const kSize = k.data.BYTES_PER_ELEMENT;
    const vSize = v === null ? 0 : v.data.BYTES_PER_ELEMENT;
    const cSize = c.kData.BYTES_PER_ELEMENT;
    const perToken = row * (kSize + vSize + (v === null ? 1 : 2) * cSize);
    const tc = Math.min(tokens, Math.max(1, Math.floor(PIECE_BYTES / perToken)));
    const posCount = plan.positions === null ? 0 : (geometry.sectionRows - 1) * plan.positionsRowStride + tokens;
    // Arrays in the module's memory (a wasmArray) are viewed again whenever it grows.
    let mem = x.memory.buffer;
    const homes = [k.data, v?.data ?? null, c.kData, c.vData].map((a) => (a !== null && a.buffer === mem ? { at: a.byteOffset, n: a.length } : null));
    const arrays: (Arr | null)[] = [k.data, v?.data ?? null, c.kData, c.vData];
    const fresh = (): void => {
      const now = x.memory.buffer;
      if (now === mem) return;
      mem = now;
      homes.forEach((h, i) => {
        if (h !== null) arrays[i] = viewOf(now, arrays[i]!, h.at, h.n);
      });
    };
    const kAt = ctx.scratch(align16(tc * row * kSize) + align16(tc * row * vSize) + 2 * align16(tc * row * cSize) + align16(posCount * 4));
    const vAt = kAt + align16(tc * row * kSize);
    const kcAt = vAt + align16(tc * row * vSize);
    const vcAt = kcAt + align16(tc * row * cSize);
    const posAt = vcAt + (v === null ? 0 : align16(tc * row * cSize));
    fresh();
    if (plan.positions !== null) {
      const p = plan.positions;
      new Int32Array(mem, posAt, posCount).set(new Int32Array(p.buffer, p.byteOffset, posCount));
    }
    packed.fill(0);
    packed[DESC_INVERSE] = plan.inverse ? 1 : 0;
    packed[DESC_POS_ROW_STRIDE] = plan.positionsRowStride;
    packed[DESC_ATTENTION_SCALING] = plan.attentionScaling;
    packed[DESC_K + T_DTYPE] = k.dtype;
    packed[DESC_K + T_HEADS] = heads;
    packed[DESC_K + T_TOKEN_STRIDE] = row; // (offset and batch stride 0)
    packed[DESC_K + T_HEAD_STRIDE] = headDim;
    packed[S.kPtr] = kAt;
    packed[S.invFreqPtr] = invFreqAt;
    packed[S.cacheDtype + T_DTYPE] = c.dtype;
    packed[S.cacheKPtr] = kcAt;
    packed[S.cacheVPtr] = v === null ? 0 : vcAt;
    packed[S.vPtr] = vAt;
    packed[S.vDtype + T_DTYPE] = v === null ? 0 : v.dtype;
    for (let t0 = 0; t0 < tokens; t0 += tc) {
      const n = Math.min(tc, tokens - t0);
      // k's (and v's) rows of these tokens, compact.
      for (const [src, t, at, size] of v === null ? ([[0, k, kAt, kSize]] as const) : ([[0, k, kAt, kSize], [1, v, vAt, vSize]] as const)) {
        const data = arrays[src]!;
        const dst = viewOf(mem, data, at, n * row);
        for (let i = 0; i < n; i++) {
          const first = t.offset + (t0 + i) * t.tokenStride;
          if (t.headStride === headDim) dst.set(data.subarray(first, first + row), i * row);
          else for (let h = 0; h < heads; h++) dst.set(data.subarray(first + h * t.headStride, first + h * t.headStride + headDim), i * row + h * headDim);
        }
      }
      packed[DESC_TOKENS] = n;
      packed[DESC_POS_OFFSET] = plan.positionOffset + t0;
      packed[S.positionsPtr] = plan.positions === null ? 0 : posAt + 4 * t0;
      packed[S.kLength] = n * row;
      new Float64Array(mem, desc, S.count).set(packed);
      if (x.rope_apply_cache(handle, desc) !== 0) throw new Error('internal error: the wasm engine refused a checked cache plan');
      fresh(); // (the cos/sin cache may have grown the memory)
      // Each written token's rows to its slot.
      for (const [ci, at] of c.vData === null ? ([[2, kcAt]] as const) : ([[2, kcAt], [3, vcAt]] as const)) {
        const cache = arrays[ci]!;
        const rows = viewOf(mem, cache, at, n * row);
        for (let i = 0; i < n; i++) {
          const t = t0 + i;
          const slot = c.slots === null ? c.slotStart + t : c.slots[c.slotsAt + t];
          if (slot < 0) continue;
          if (c.headStride === headDim) cache.set(rows.subarray(i * row, (i + 1) * row), slot * c.slotStride);
          else for (let h = 0; h < heads; h++) cache.set(rows.subarray(i * row + h * headDim, i * row + (h + 1) * headDim), slot * c.slotStride + h * c.headStride);
        }
      }
    }
  };
  return { write };
}
