// The numbers a call hands the native addon, packed into one reused Float64Array so that a decode
// call allocates nothing and crosses into C++ with six arguments. native/abi.h mirrors these
// indices (test/native/contracts.test.ts parses both and fails when they differ). Doubles carry every
// integer below 2^53 exactly.
import type { CallPlan, TensorPlan } from './types.js';

export const DESC_BATCH = 0;
export const DESC_TOKENS = 1;
export const DESC_INVERSE = 2;
export const DESC_POS_OFFSET = 3;
export const DESC_POS_BATCH_STRIDE = 4;
export const DESC_POS_ROW_STRIDE = 5;
export const DESC_THREADS = 6;
export const DESC_ATTENTION_SCALING = 7;
/** First index of the q tensor's block; k's block follows at DESC_K. */
export const DESC_Q = 8;
export const DESC_K = 14;
/** Offsets inside a tensor block. */
export const T_DTYPE = 0;
export const T_HEADS = 1;
export const T_OFFSET = 2;
export const T_BATCH_STRIDE = 3;
export const T_TOKEN_STRIDE = 4;
export const T_HEAD_STRIDE = 5;
export const DESC_LEN = 20;
/** The cache descriptor of applyCache (native/abi.h): cache dtype, layout (0 nhd, 1 hnd), first
 * slot of a run (-1: the slots array), whether v is written, then v's tensor block. */
export const DESC_CACHE_DTYPE = 0;
export const DESC_CACHE_LAYOUT = 1;
export const DESC_CACHE_SLOT_START = 2;
export const DESC_CACHE_HAS_V = 3;
export const DESC_CACHE_V = 4;
export const DESC_CACHE_LEN = 10;

function packTensor(desc: Float64Array, at: number, t: TensorPlan): void {
  desc[at + T_DTYPE] = t.dtype;
  desc[at + T_HEADS] = t.heads;
  desc[at + T_OFFSET] = t.offset;
  desc[at + T_BATCH_STRIDE] = t.batchStride;
  desc[at + T_TOKEN_STRIDE] = t.tokenStride;
  desc[at + T_HEAD_STRIDE] = t.headStride;
}

/** Writes plan into desc (length DESC_LEN). The typed arrays travel as separate arguments. */
export function packPlan(desc: Float64Array, plan: CallPlan): void {
  desc[DESC_BATCH] = plan.batch;
  desc[DESC_TOKENS] = plan.tokens;
  desc[DESC_INVERSE] = plan.inverse ? 1 : 0;
  desc[DESC_POS_OFFSET] = plan.positionOffset;
  desc[DESC_POS_BATCH_STRIDE] = plan.positionsBatchStride;
  desc[DESC_POS_ROW_STRIDE] = plan.positionsRowStride;
  desc[DESC_THREADS] = plan.threads;
  desc[DESC_ATTENTION_SCALING] = plan.attentionScaling;
  packTensor(desc, DESC_Q, plan.q);
  if (plan.k) packTensor(desc, DESC_K, plan.k);
  else desc.fill(0, DESC_K, DESC_K + 6);
}

/** Writes plan.cache (with plan.k: the step's k) into cdesc (length DESC_CACHE_LEN). */
export function packCache(cdesc: Float64Array, plan: CallPlan, hnd: boolean): void {
  const c = plan.cache!;
  cdesc[DESC_CACHE_DTYPE] = c.dtype;
  cdesc[DESC_CACHE_LAYOUT] = hnd ? 1 : 0;
  cdesc[DESC_CACHE_SLOT_START] = c.slots === null ? c.slotStart : -1;
  cdesc[DESC_CACHE_HAS_V] = c.v === null ? 0 : 1;
  if (c.v !== null) packTensor(cdesc, DESC_CACHE_V, c.v);
  else cdesc.fill(0, DESC_CACHE_V, DESC_CACHE_V + 6);
}

/** The addon's exports (native/binding/addon.cc). */
export interface NativeAddon {
  /** ISAs this CPU can run, best first, e.g. ['avx512', 'avx2', 'scalar']. */
  supportedIsas(): string[];
  /** The ISA whose kernels run now. */
  isa(): string;
  /** Switch kernels; throws if the CPU (or the build) cannot run that ISA. */
  selectIsa(name: string): void;
  NativeRope: new (
    headDim: number,
    rotaryDim: number,
    style: number,
    pairSection: Uint8Array | null,
    sectionRows: number,
  ) => NativeRopeHandle;
}

export interface NativeRopeHandle {
  /** Rotates q (and k, unless null) in place, as described by desc (packPlan). positions is null
   * when desc[DESC_POS_OFFSET] gives the positions. Throws (a JS exception) on anything out of
   * bounds, writing nothing. */
  apply(
    q: Float32Array | Uint16Array,
    k: Float32Array | Uint16Array | null,
    positions: Int32Array | null,
    invFreq: Float64Array,
    desc: Float64Array,
  ): void;
  /** Same, on the libuv thread pool. Checks everything and copies desc and invFreq
   * before returning (a bad call throws synchronously); holds references to q, k, positions until
   * the promise settles; ArrayBuffer memory is rotated in a native copy (runsInPlace). desc's threads:
   * 0 = auto, else 1..1024, as for apply. */
  /** apply's first five arguments, then the cache write (docs/guide/kv-cache.md): k is only read; its
   * rotation and v go to the cache rows; slots: one per token (-1 skips) when cdesc's slot start
   * is -1, else null. Re-checks everything; a refused call writes nothing. */
  applyCache?(
    q: Float32Array | Uint16Array,
    k: Float32Array | Uint16Array,
    positions: Int32Array | null,
    invFreq: Float64Array | null,
    desc: Float64Array,
    v: Float32Array | Uint16Array | null,
    kCache: Float32Array | Uint16Array,
    vCache: Float32Array | Uint16Array | null,
    slots: Int32Array | null,
    cdesc: Float64Array,
  ): void;
  applyAsync?(
    q: Float32Array | Uint16Array,
    k: Float32Array | Uint16Array | null,
    positions: Int32Array | null,
    invFreq: Float64Array,
    desc: Float64Array,
  ): Promise<void>;
}
