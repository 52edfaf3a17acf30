// Public option types and the internal call plan that both engines consume.
// The plan is the contract between validate.ts (which builds it, throwing before any write),
// engine-js.ts (which walks it in JS) and the native binding (which receives the same numbers
// packed by abi.ts and re-checks them in C++).
import type { NativeIsa } from './generated/isas.js';

/** Pair styles: 'half' = rotate_half (pairs j, j+rotaryDim/2; HF Llama, GPT-NeoX, llama.cpp NEOX);
 * 'interleaved' = pairs (2j, 2j+1) (GPT-J, RoFormer, llama.cpp NORM). */
export type RopeStyle = 'half' | 'interleaved';
export type DTypeName = 'f32' | 'f16' | 'bf16';
/** 'shd' = [tokens, heads, headDim]; 'bshd' = [batch, tokens, heads, headDim]; 'bhsd' = [batch, heads, tokens, headDim]. */
export type Layout = 'shd' | 'bshd' | 'bhsd';
export type Threads = number | 'auto';

export type ScalingOptions =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | { type: 'dynamic'; factor: number; originalMaxPositions: number }
  | {
      type: 'yarn';
      factor: number;
      originalMaxPositions: number;
      betaFast?: number;
      betaSlow?: number;
      mscale?: number;
      mscaleAllDim?: number;
      attentionFactor?: number;
      truncate?: boolean;
    }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  | {
      type: 'longrope';
      shortFactor: number[];
      longFactor: number[];
      originalMaxPositions: number;
      /** Else maxPositions / originalMaxPositions derives the attention factor (Phi-3). */
      factor?: number;
      maxPositions?: number;
      attentionFactor?: number;
      /** Phi-3.5-MoE: cos/sin multiplied by shortMscale up to originalMaxPositions, longMscale past
       * it (in place of the attention factor). */
      shortMscale?: number;
      longMscale?: number;
    }
  /** Gemma 4 'proportional': the first rotaryFraction of the pairs rotate at base^(-2j/rotaryDim),
   * the others keep angle 0; every frequency divided by factor (default 1). */
  | { type: 'proportional'; factor?: number; rotaryFraction?: number }
  /** llama.cpp's rope_freqs tensor (Llama 3.1 GGUF): invFreq_j = base^(-2j/rotaryDim) / factors[j]. */
  | { type: 'freqFactors'; factors: number[] };

export interface RopeOptions {
  /** D, even. */
  headDim: number;
  /** Even, <= headDim; default headDim. Dims past it pass through untouched. */
  rotaryDim?: number;
  /** rope_theta; default 10000. */
  base?: number;
  /** Default 'half'. */
  style?: RopeStyle;
  /** Context-extension scaling (Hugging Face rope_scaling semantics). */
  scaling?: ScalingOptions;
  /** max_position_embeddings of the model (LongRoPE/YaRN read it where transformers does). */
  maxPositions?: number;
  /** M-RoPE sections [t, h, w] (or [h, w]), summing to rotaryDim/2; four [t, h, w, e] is llama.cpp's
   * layout (4 position rows; Rope.fromGGUF gives it). */
  mropeSection?: number[];
  /** Assign pairs to sections round-robin (Qwen3-VL, llama.cpp IMROPE) instead of in blocks; 'hw'
   * (Ernie 4.5 VL, mropeSection [h, w, t]): the first h + w pairs alternate height and width rows,
   * the last t pairs read the temporal row. */
  mropeInterleaved?: boolean | 'hw';
  /** Which rotaryDim values of each head rotate when rotaryDim < headDim: 'leading' (default: the
   * first rotaryDim, `x[..., :rotary_dim]` as GPT-NeoX, Phi and partial_rotary_factor do) or
   * 'trailing' (the last rotaryDim, `x[..., -rope_dim:]`: heads laid out [nope | rope], DeepSeek-V4). */
  rotarySlice?: 'leading' | 'trailing';
}

/**
 * The runtime's Float16Array type where the TypeScript lib declares one (lib "esnext.float16" or
 * later; Node >= 24 has the class), else `never`. Looked up through globalThis so that these
 * declarations compile with any lib and target (no Symbol or Float16Array name is needed).
 */
export type Float16ArrayLike = typeof globalThis extends { Float16Array: { prototype: infer P } } ? P : never;

/** The arrays a Rope rotates: f32 as Float32Array, f16/bf16 bits as Uint16Array, or a Float16Array. */
export type RopeArray = Float32Array | Uint16Array | Float16ArrayLike;

/** The dtype option an array of type A takes: optional 'f32' for a Float32Array, required 'f16' |
 * 'bf16' for a Uint16Array (its bits are not self-describing), optional 'f16' for a Float16Array.
 * (With lib es5 the typed arrays are structurally identical, so A matches both of the first two
 * tests: dtype is then only checked at run time.) */
export type DTypeOption<A extends RopeArray> = A extends Float32Array
  ? A extends Uint16Array
    ? { dtype?: DTypeName }
    : { dtype?: 'f32' }
  : A extends Uint16Array
    ? { dtype: 'f16' | 'bf16' }
    : { dtype?: 'f16' };

/** The kind of array A is, whatever buffer backs it: k may sit on an ArrayBuffer while q sits on a
 * SharedArrayBuffer, as long as both hold the same element type. */
export type SameKind<A extends RopeArray> = A extends Float32Array
  ? Float32Array
  : A extends Uint16Array
    ? Uint16Array
    : Float16ArrayLike;

export type Positions = number | Int32Array | readonly number[];

interface CommonApplyOptions {
  /** Position of each token: a number (the first token's position; the rest follow it), or one per
   * token (per batch row with layout 'bshd'/'bhsd'; per M-RoPE section row). Required: a forgotten
   * offset is the classic KV-cache bug. */
  positions: Positions;
  /** Default 'shd'. */
  layout?: Layout;
  batch?: number;
  /** Required with tokenStride; otherwise derived from the array's length. */
  tokens?: number;
  /** Rotate by -angle (undo a rotation; shift a KV cache). */
  inverse?: boolean;
  /** Sequence length for sequence-dependent scalings (dynamic, longrope); default max position + 1. */
  seqLen?: number;
  /** Default 'auto'. */
  threads?: Threads;
}

export interface ApplyOptionsBase extends CommonApplyOptions {
  /** Heads in x (per token). */
  heads: number;
  /** Elements from one token's first head to the next token's ('shd'/'bshd' only). */
  tokenStride?: number;
}
/** rope.apply's options for an array of type A (default Float32Array). */
export type ApplyOptions<A extends RopeArray = Float32Array> = ApplyOptionsBase & DTypeOption<A>;
export type ApplyOptionsF32 = ApplyOptions<Float32Array>;
export type ApplyOptions16 = ApplyOptions<Uint16Array>;
export type ApplyOptionsF16Array = ApplyOptionsBase & { dtype?: 'f16' };

export interface ApplyQKOptionsBase extends CommonApplyOptions {
  /** Heads in q and in k (per token; grouped-query attention: kHeads < qHeads). */
  qHeads: number;
  kHeads: number;
  /** Token stride for both q and k (fused QKV buffers); qTokenStride/kTokenStride override it. */
  tokenStride?: number;
  qTokenStride?: number;
  kTokenStride?: number;
}
/** Where applyQK writes the rotated k and the unrotated v (docs/guide/kv-cache.md): rows of the cache
 * arrays named by slots, in the cache's dtype (required for a Uint16Array cache, as for q and k). */
export type CacheOptions<C extends RopeArray = Float32Array> = {
  k: C;
  /** Required with applyQK's v, refused without it. */
  v?: SameKind<C>;
  /** One slot per token (-1: the token is not written), or the first slot of a contiguous run. */
  slots: Int32Array | number;
  /** 'nhd' (default): [slots, kvHeads, headDim] (a paged cache: slot = block * blockSize +
   * offset); 'hnd': [kvHeads, slots, headDim]. */
  layout?: CacheLayout;
} & DTypeOption<C>;
export type CacheLayout = 'nhd' | 'hnd';
/** Any cache: f32 (Float32Array), f16/bf16 bits (Uint16Array, dtype required) or a Float16Array. */
export type AnyCacheOptions = CacheOptions<Float32Array> | CacheOptions<Uint16Array> | CacheOptions<Float16ArrayLike>;
export interface CacheCallOptions<A extends RopeArray> {
  /** Values, [tokens, kHeads, headDim] like k: written unrotated to cache.v. */
  v?: SameKind<A>;
  /** Write the rotated k (and v) into a KV cache; k and v are then left unchanged. */
  cache?: AnyCacheOptions;
}
/** rope.applyQK's options for arrays of type A (default Float32Array). */
export type ApplyQKOptions<A extends RopeArray = Float32Array> = ApplyQKOptionsBase & DTypeOption<A> & CacheCallOptions<A>;
export type ApplyQKOptionsF32 = ApplyQKOptions<Float32Array>;
export type ApplyQKOptions16 = ApplyQKOptions<Uint16Array>;
export type ApplyQKOptionsF16Array = ApplyQKOptionsBase & { dtype?: 'f16' };

/** The runtime's AbortSignal type where the TypeScript lib declares one (DOM or @types/node), else
 * what the async calls read of it (looked up through globalThis, like Float16ArrayLike). */
export type AbortSignalLike = typeof globalThis extends { AbortSignal: { prototype: infer P } }
  ? P
  : { readonly aborted: boolean; readonly reason?: unknown };

/** The async calls' own option (applyAsync, applyQKAsync, a step's applyQKAsync). */
export interface AsyncOptions {
  /** Stops the call between two of its slices: the promise rejects with an AbortError (a
   * DOMException) that names the tokens rotated and those left unchanged. Already aborted: it
   * rejects before anything is written. */
  signal?: AbortSignalLike;
}

export interface BackendInfo {
  backend: 'native' | 'wasm' | 'js';
  /** A native ISA (native/kernels/isas.def, best first), the wasm engine's, or the JS engine. */
  isa: NativeIsa | 'wasm-simd128' | 'js';
  reason?: string;
}

// ---------------------------------------------------------------------------------------------
// Internal: the checked plan of one call. Every index below is in ELEMENTS of `data`, counted from
// data's own start (its byteOffset is the binding's business). The element (b, t, h, d) of a
// tensor lives at data[offset + b*batchStride + t*tokenStride + h*headStride + d].

export const DTYPE_F32 = 0;
export const DTYPE_F16 = 1;
export const DTYPE_BF16 = 2;
export type DType = typeof DTYPE_F32 | typeof DTYPE_F16 | typeof DTYPE_BF16;

export const STYLE_HALF = 0;
export const STYLE_INTERLEAVED = 1;
export type StyleCode = typeof STYLE_HALF | typeof STYLE_INTERLEAVED;

/** What a Rope fixes once: the geometry of a head and how pairs map to position rows. */
export interface RopeGeometry {
  headDim: number;
  rotaryDim: number;
  style: StyleCode;
  /** For M-RoPE: pairSection[j] = which positions row pair j reads (length rotaryDim/2); null = row 0. */
  pairSection: Uint8Array | null;
  /** How many positions rows a call carries (1, or the number of M-RoPE sections). */
  sectionRows: number;
  /** Where the rotated values start in each head: 0, or headDim - rotaryDim for rotarySlice 'trailing'. */
  rotaryOffset?: number;
}

export interface TensorPlan {
  /** f32 data as Float32Array; f16/bf16 bits as Uint16Array (a Float16Array is re-viewed as Uint16Array). */
  data: Float32Array | Uint16Array;
  dtype: DType;
  heads: number;
  offset: number;
  batchStride: number;
  tokenStride: number;
  headStride: number;
}

/** A checked cache write (lib/cache.ts): token t of the call (batch 1) goes to slot
 * slots[slotsAt + t] (skipped when < 0), or slotStart + t when slots is null. */
export interface CachePlan {
  /** v as read (k is the call's plan.k), null for a k-only cache. */
  v: TensorPlan | null;
  kData: Float32Array | Uint16Array;
  vData: Float32Array | Uint16Array | null;
  dtype: DType;
  /** Elements from one slot's row of a head to the next slot's, and from one head to the next. */
  slotStride: number;
  headStride: number;
  slots: Int32Array | null;
  slotsAt: number;
  slotStart: number;
}

export interface CallPlan {
  q: TensorPlan;
  k: TensorPlan | null;
  /** applyQK with cache: k is only read, its rotation goes to the cache. */
  cache?: CachePlan | null;
  batch: number;
  tokens: number;
  inverse: boolean;
  /** null: position of (b, t) is positionOffset + t for every row. Otherwise the position of
   * (row r, b, t) is positions[r*positionsRowStride + b*positionsBatchStride + t]. */
  positions: Int32Array | null;
  positionOffset: number;
  positionsBatchStride: number;
  positionsRowStride: number;
  /** Frequencies for this call (float64, length rotaryDim/2) and the factor on cos and sin. */
  invFreq: Float64Array;
  attentionScaling: number;
  /** Threads to use (>= 1), or 0 for 'auto' (the native walk decides from the call's size);
   * the JS engine ignores it. */
  threads: number;
}

export interface Engine {
  apply(plan: CallPlan): void;
  /** plan with a cache (docs/guide/kv-cache.md): q rotated, k's rotation and v written into the cache
   * in one walk. Absent: the engine rotates q and lib/engine-js-cache.ts writes the cache. */
  applyCache?(plan: CallPlan): void;
}
