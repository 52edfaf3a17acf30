// The WebAssembly engine: native/walk.cc with the SIMD128 kernels (prebuilds/wasm/rope-simd.wasm,
// inline in wasm-bytes.ts so that Node, Deno, Bun and browser bundles all get it without reading a
// file). One module instance per JS realm, shared by every Rope. The user's arrays stay the API:
// a call copies the rows it rotates into the module's memory, walks them there, and copies them
// back (a dense piece in one set(); otherwise row by row, so that elements it does not rotate are
// never written), in pieces of a few hundred KiB where the layout allows. Everything that can fail
// (the scratch allocation, the cos/sin table) happens before the first row is copied back.
// Arrays allocated in the module's memory (wasmArray) are rotated where they are, without copies.
import { DESC_K, DESC_LEN, DESC_POS_OFFSET, DESC_Q, T_OFFSET, packPlan } from './abi.js';
import { applyWithCache } from './engine-js-cache.js';
import { createWasmCacheWriter } from './engine-wasm-cache.js';
import { WASM_BASE64 } from './generated/wasm-bytes.js';
import { bufferOf, byteOffsetOf, describe } from './typed-array.js';
import type { CallPlan, DTypeName, Engine, RopeGeometry, TensorPlan } from './types.js';

// The few WebAssembly APIs used (tsconfig's lib has no DOM, and @types/node's are partial).
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
interface WasmExports {
  memory: { readonly buffer: ArrayBuffer };
  rope_alloc(bytes: number): number;
  rope_free(ptr: number): void;
  rope_new(headDim: number, rotaryDim: number, style: number, pairSection: number, sectionRows: number): number;
  rope_delete(handle: number): void;
  rope_apply(handle: number, desc: number): number;
  /** (absent from a module built before the cache write: then the JS writer runs) */
  rope_apply_cache?(handle: number, desc: number): number;
}

// native/wasm/entry.cc: the descriptor's slots after lib/abi.ts's DESC_LEN.
const D_Q_PTR = DESC_LEN;
const D_K_PTR = DESC_LEN + 1;
const D_POSITIONS_PTR = DESC_LEN + 2;
const D_INVFREQ_PTR = DESC_LEN + 3;
const D_Q_LENGTH = DESC_LEN + 4;
const D_K_LENGTH = DESC_LEN + 5;
const D_HAS_K = DESC_LEN + 6;
// rope_apply_cache's (lib/engine-wasm-cache.ts): the cache rows' dtype and address (k's, v's),
// v's rows and dtype.
const D_CACHE_DTYPE = DESC_LEN + 7;
const D_CACHE_K_PTR = DESC_LEN + 8;
const D_CACHE_V_PTR = DESC_LEN + 9;
const D_V_PTR = DESC_LEN + 10;
const D_V_DTYPE = DESC_LEN + 11;
const D_SLOTS = DESC_LEN + 12;

// libc++abi can print to stderr before it aborts (it never does on our paths): these WASI calls
// exist only so that the module links; each answers ENOSYS.
const ENOSYS = 52;
const wasiStubs = { fd_close: () => ENOSYS, fd_seek: () => ENOSYS, fd_write: () => ENOSYS };

function decodeBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

let wasm: WasmExports | null = null;

/** The module's exports, instantiated on first use (synchronously); throws with the reason when
 * this runtime has no WebAssembly or no SIMD128. */
export function wasmExports(): WasmExports {
  if (wasm !== null) return wasm;
  const wa = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (typeof wa !== 'object' || wa === null) throw new Error('this runtime has no WebAssembly');
  let module: object;
  try {
    module = new wa.Module(decodeBase64(WASM_BASE64));
  } catch (e) {
    throw new Error(`the wasm module did not compile (WebAssembly SIMD128 unsupported?): ${(e as Error).message}`, { cause: e });
  }
  const instance = new wa.Instance(module, { wasi_snapshot_preview1: wasiStubs });
  wasm = instance.exports as unknown as WasmExports;
  return wasm;
}

// Views of the module's memory, renewed whenever it grows (growing replaces memory.buffer).
let buffer: ArrayBuffer | null = null;
let f64 = new Float64Array(0);
let f32 = new Float32Array(0);
let u16 = new Uint16Array(0);
let i32 = new Int32Array(0);
let u8 = new Uint8Array(0);
function views(x: WasmExports): void {
  const now = x.memory.buffer;
  if (now === buffer) return;
  buffer = now;
  f64 = new Float64Array(buffer);
  f32 = new Float32Array(buffer);
  u16 = new Uint16Array(buffer);
  i32 = new Int32Array(buffer);
  u8 = new Uint8Array(buffer);
}

function alloc(x: WasmExports, bytes: number): number {
  const p = bytes <= 0xffff_fff0 ? x.rope_alloc(bytes) : 0;
  if (p === 0) throw new RangeError(`the wasm engine could not allocate ${bytes} bytes of its memory (a wasm32 module has 4 GiB at most)`);
  return p;
}

// One scratch area for the rows of every call (calls are synchronous: one at a time per realm).
let arena = 0;
let arenaBytes = 0;
function scratch(x: WasmExports, bytes: number): number {
  if (bytes > arenaBytes) {
    if (arena !== 0) x.rope_free(arena);
    arena = 0;
    arenaBytes = 0;
    const want = Math.max(bytes, Math.min(2 * bytes, bytes + (64 << 20)));
    arena = alloc(x, want);
    arenaBytes = want;
  }
  return arena;
}

const align16 = (n: number) => (n + 15) & ~15;

// The arrays wasmArray handed out and not yet freed: address -> bytes. The rest of the module's
// memory is the module's own (its stack, the cos/sin caches, the scratch area): a call whose rows
// lie there is refused, or the rotation (or a copy into the scratch area) would corrupt it.
const live = new Map<number, number>();

/** An array in the wasm engine's memory: Ropes on the wasm engine rotate it in place, without the
 * copies into and out of module memory that every other array costs. */
export interface WasmArray {
  readonly dtype: DTypeName;
  readonly length: number;
  /** The elements: a view of the module's memory. When that memory grows (any wasm-engine call
   * may grow it) views taken before are detached (length 0; calls refuse them): read `array`
   * again after each call rather than keeping it. Throws after free(). */
  readonly array: Float32Array | Uint16Array;
  /** Gives the memory back to the module (views of it must not be used after this). */
  free(): void;
}

/** Allocates `length` elements of dtype (default 'f32'; 'f16' and 'bf16' are Uint16Array bits),
 * zero-filled, in the wasm engine's memory (see WasmArray). Throws when this runtime has no
 * WebAssembly SIMD or the module's memory (4 GiB at most) cannot hold it. */
export function wasmArray(length: number, dtype: DTypeName = 'f32'): WasmArray {
  if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16') throw new TypeError(`dtype must be 'f32', 'f16' or 'bf16', got ${describe(dtype)}`);
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length <= 0) {
    throw new RangeError(`length must be a positive integer, got ${describe(length)}`);
  }
  const x = wasmExports();
  const size = dtype === 'f32' ? 4 : 2;
  const ptr = alloc(x, length * size);
  const bytes = length * size;
  views(x);
  u8.fill(0, ptr, ptr + bytes);
  live.set(ptr, bytes);
  let view: Float32Array | Uint16Array | null = null;
  let freed = false;
  return Object.freeze({
    dtype,
    length,
    get array(): Float32Array | Uint16Array {
      if (freed) throw new Error('this WasmArray was freed');
      const now = x.memory.buffer;
      if (view === null || bufferOf(view) !== now) view = size === 4 ? new Float32Array(now, ptr, length) : new Uint16Array(now, ptr, length);
      return view;
    },
    free(): void {
      if (freed) return;
      freed = true;
      view = null;
      live.delete(ptr);
      x.rope_free(ptr);
    },
  });
}

// [start, start + n) bytes of module memory: inside one live WasmArray?
function inLiveArray(start: number, n: number): boolean {
  for (const [p, bytes] of live) if (start >= p && start + n <= p + bytes) return true;
  return false;
}

// Where t's rows start in module memory (bytes), checked to lie in a live WasmArray; throws
// (nothing written yet) when they do not.
function rowsAddress(t: TensorPlan, batch: number, tokens: number, rotaryDim: number, name: string): number {
  const size = t.data.BYTES_PER_ELEMENT;
  const s = span(t, 0, batch, 0, tokens, rotaryDim);
  const start = byteOffsetOf(t.data) + s.lo * size;
  if (!inLiveArray(start, s.n * size)) {
    throw new RangeError(`${name} is a view of the wasm engine's memory outside any live wasmArray (freed, or not one): nothing rotated`);
  }
  return start - s.lo * size;
}

// Token-major tensors (layouts 'shd', 'bshd') go through module memory in pieces of about this
// many bytes: copy in, rotate and copy out stay in the cache, so the copies add little memory
// traffic (one piece of the whole of S4 f32 made the call ~1.5x slower).
// (Copies into module memory below ~512 KiB ran several times slower per byte in V8 here.)
const PIECE_BYTES = 1 << 20;
let pieceBytes = PIECE_BYTES;
/** Tests: a small piece size makes small calls go through many pieces (0: the default). */
export function setWasmPieceBytes(n: number): void {
  pieceBytes = n > 0 ? n : PIECE_BYTES;
}

// A piece: batch row b, tokens [t0, t0 + tc). Elements [lo, lo + n) of t.data hold all its rows;
// dense: its rows are all of them.
interface Span {
  lo: number;
  n: number;
  dense: boolean;
}
function span(t: TensorPlan, b: number, nb: number, t0: number, tc: number, rotaryDim: number): Span {
  const n = (nb - 1) * t.batchStride + (tc - 1) * t.tokenStride + (t.heads - 1) * t.headStride + rotaryDim;
  return { lo: t.offset + b * t.batchStride + t0 * t.tokenStride, n, dense: n === nb * tc * t.heads * rotaryDim };
}

// The built-ins, taken once: a user's typed-array subclass (a species constructor, an own `set`)
// runs no code during a call.
const typedSet = Object.getPrototypeOf(Uint8Array.prototype).set as (this: ArrayLike<number>, src: ArrayLike<number>, at: number) => void;
// Elements [lo, lo + n) of t.data, as a plain view.
function plainView(t: TensorPlan, lo: number, n: number): Float32Array | Uint16Array {
  const d = t.data;
  const at = d.byteOffset + lo * d.BYTES_PER_ELEMENT;
  return d.BYTES_PER_ELEMENT === 4 ? new Float32Array(d.buffer, at, n) : new Uint16Array(d.buffer, at, n);
}

function memoryOf(t: TensorPlan): Float32Array | Uint16Array {
  return t.data.BYTES_PER_ELEMENT === 4 ? f32 : u16;
}

function copyIn(t: TensorPlan, s: Span, at: number): void {
  typedSet.call(memoryOf(t), plainView(t, s.lo, s.n), at / t.data.BYTES_PER_ELEMENT);
}

// Only the rotated rows go back (never the elements between them: another view, or another thread
// of a SharedArrayBuffer, may own those).
function copyOut(t: TensorPlan, s: Span, at: number, nb: number, tc: number, rotaryDim: number): void {
  const base = at / t.data.BYTES_PER_ELEMENT;
  if (s.dense) {
    typedSet.call(plainView(t, s.lo, s.n), memoryOf(t).subarray(base, base + s.n), 0);
    return;
  }
  // Bits, not numbers: a float32 NaN read into JS may come back with other bits.
  const f = t.data.BYTES_PER_ELEMENT === 4;
  const data = f ? new Int32Array(t.data.buffer, t.data.byteOffset, t.data.length) : new Uint16Array(t.data.buffer, t.data.byteOffset, t.data.length);
  const mem = f ? i32 : u16;
  for (let b = 0; b < nb; b++) {
    for (let tk = 0; tk < tc; tk++) {
      for (let h = 0; h < t.heads; h++) {
        const rel = b * t.batchStride + tk * t.tokenStride + h * t.headStride;
        const src = base + rel;
        const dst = s.lo + rel;
        for (let d = 0; d < rotaryDim; d++) data[dst + d] = mem[src + d];
      }
    }
  }
}

// Rows of one token lie before the next token's (so a run of tokens is a compact span).
const tokenMajor = (t: TensorPlan, rotaryDim: number) => t.tokenStride >= (t.heads - 1) * t.headStride + rotaryDim;

// Handles of Ropes that were garbage-collected: their C++ side (and its cos/sin cache) is freed.
const handles =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<{ handle: number; desc: number }>((h) => {
        const x = wasm;
        if (x === null) return;
        x.rope_delete(h.handle);
        x.rope_free(h.desc);
      })
    : null;

export function createWasmEngine(geometry: RopeGeometry): Engine {
  const x = wasmExports();
  const half = geometry.rotaryDim / 2;
  let sections = 0;
  if (geometry.pairSection !== null) {
    sections = alloc(x, half);
    views(x);
    u8.set(geometry.pairSection.subarray(0, half), sections);
  }
  const handle = x.rope_new(geometry.headDim, geometry.rotaryDim, geometry.style, sections, geometry.sectionRows);
  if (sections !== 0) x.rope_free(sections);
  if (handle === 0) throw new RangeError('the wasm engine could not create this Rope (out of memory in the module)');
  // This Rope's descriptor and its invFreq, side by side in module memory.
  // (room for the cache write's descriptor too: engine-wasm-cache.ts)
  const desc = alloc(x, D_SLOTS * 8 + half * 8);
  const invFreqAt = desc + D_SLOTS * 8;
  let lastInvFreq: Float64Array | null = null;
  const rotaryDim = geometry.rotaryDim;
  const packed = new Float64Array(D_SLOTS);

  const engine: Engine & {
    ownsMemory(data: Float32Array | Uint16Array): boolean;
    rebind(data: Float32Array | Uint16Array, byteOffset: number, length: number): Float32Array | Uint16Array | null;
  } = {
    // An async call on a wasmArray runs in slices (lib/async.ts); a slice may grow the memory,
    // which detaches the views taken before: the call views the same bytes again.
    ownsMemory(data: Float32Array | Uint16Array): boolean {
      return bufferOf(data) === x.memory.buffer;
    },
    rebind(data: Float32Array | Uint16Array, byteOffset: number, length: number): Float32Array | Uint16Array | null {
      const now = x.memory.buffer;
      if (bufferOf(data) === now) return null;
      const size = data.BYTES_PER_ELEMENT;
      if (byteOffset + length * size > now.byteLength) return null;
      return size === 4 ? new Float32Array(now, byteOffset, length) : new Uint16Array(now, byteOffset, length);
    },
    apply(plan: CallPlan): void {
      const { batch, tokens } = plan;
      const q = plan.q;
      const k = plan.k;
      // Rows in a live WasmArray are rotated where they are (their address, their own offsets);
      // the others go through the scratch area. Addresses first: an allocation below may grow the
      // memory, which detaches those views (the addresses stay valid).
      const mem = x.memory.buffer;
      const qHere = bufferOf(q.data) === mem;
      const kHere = k !== null && bufferOf(k.data) === mem;
      const qPtr = qHere ? rowsAddress(q, batch, tokens, rotaryDim, 'q') : 0;
      const kPtr = kHere ? rowsAddress(k!, batch, tokens, rotaryDim, 'k') : 0;
      const qSize = q.data.BYTES_PER_ELEMENT;
      const kSize = k !== null ? k.data.BYTES_PER_ELEMENT : 0;
      // Pieces of tc tokens of one batch row, or (not token-major, or nothing to copy) the whole
      // call at once.
      const copied = (qHere ? 0 : q.tokenStride * qSize) + (k !== null && !kHere ? k.tokenStride * kSize : 0);
      const pieces = copied > 0 && tokenMajor(q, rotaryDim) && (k === null || tokenMajor(k, rotaryDim));
      const tc = pieces ? Math.min(tokens, Math.max(1, Math.floor(pieceBytes / copied))) : tokens;
      const nb = pieces ? 1 : batch;
      let posCount = 0;
      if (plan.positions !== null) {
        posCount = (geometry.sectionRows - 1) * plan.positionsRowStride + (batch - 1) * plan.positionsBatchStride + tokens;
      }
      const qBytes = qHere ? 0 : align16(span(q, 0, nb, 0, tc, rotaryDim).n * qSize);
      const kBytes = k !== null && !kHere ? align16(span(k, 0, nb, 0, tc, rotaryDim).n * kSize) : 0;
      const base = scratch(x, qBytes + kBytes + align16(posCount * 4));
      views(x);
      const qAt = base;
      const kAt = base + qBytes;
      const posAt = kAt + kBytes;

      packPlan(packed, plan);
      packed[D_HAS_K] = k !== null ? 1 : 0;
      packed[D_INVFREQ_PTR] = invFreqAt;
      packed[D_Q_PTR] = qHere ? qPtr : qAt;
      packed[D_K_PTR] = k === null ? 0 : kHere ? kPtr : kAt;
      packed[0] = nb;
      if (plan.invFreq !== lastInvFreq) {
        typedSet.call(f64, plan.invFreq, invFreqAt / 8);
        lastInvFreq = plan.invFreq;
      }
      if (plan.positions !== null) {
        const p = plan.positions;
        typedSet.call(i32, new Int32Array(p.buffer, p.byteOffset, posCount), posAt / 4);
      }
      for (let b = 0; b < batch; b += nb) {
        for (let t0 = 0; t0 < tokens; t0 += tc) {
          const n = Math.min(tc, tokens - t0);
          const qs = span(q, b, nb, t0, n, rotaryDim);
          const ks = k !== null ? span(k, b, nb, t0, n, rotaryDim) : null;
          packed[1] = n;
          packed[DESC_POS_OFFSET] = plan.positionOffset + t0;
          packed[D_POSITIONS_PTR] = plan.positions !== null ? posAt + 4 * (b * plan.positionsBatchStride + t0) : 0;
          // A copy's rows start at its start; rows in place at their element in the array.
          packed[DESC_Q + T_OFFSET] = qHere ? qs.lo : 0;
          packed[D_Q_LENGTH] = qHere ? qs.lo + qs.n : qs.n;
          if (ks !== null) {
            packed[DESC_K + T_OFFSET] = kHere ? ks.lo : 0;
            packed[D_K_LENGTH] = kHere ? ks.lo + ks.n : ks.n;
          } else packed[D_K_LENGTH] = 0;
          views(x); // the cos/sin cache may have grown the memory
          f64.set(packed, desc / 8);
          if (!qHere) copyIn(q, qs, qAt);
          if (ks !== null && !kHere) copyIn(k!, ks, kAt);
          if (x.rope_apply(handle, desc) !== 0) throw new Error('internal error: the wasm engine refused a checked plan');
          views(x);
          if (!qHere) copyOut(q, qs, qAt, nb, n, rotaryDim);
          if (ks !== null && !kHere) copyOut(k!, ks, kAt, nb, n, rotaryDim);
        }
      }
    },
  };
  if (typeof x.rope_apply_cache === 'function') {
    const slots = { kPtr: D_K_PTR, kLength: D_K_LENGTH, positionsPtr: D_POSITIONS_PTR, invFreqPtr: D_INVFREQ_PTR, cacheDtype: D_CACHE_DTYPE, cacheKPtr: D_CACHE_K_PTR, cacheVPtr: D_CACHE_V_PTR, vPtr: D_V_PTR, vDtype: D_V_DTYPE, count: D_SLOTS };
    const writer = createWasmCacheWriter({ x: x as Required<WasmExports>, handle, desc, invFreqAt, slots, scratch: (bytes) => scratch(x, bytes) }, geometry);
    engine.applyCache = (plan: CallPlan) => applyWithCache(engine, writer, plan);
  }
  handles?.register(engine, { handle, desc });
  return engine;
}
