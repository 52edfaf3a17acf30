// GGUF metadata -> RopeOptions, as llama.cpp reads it. Only maps names; lib/scaling.ts does the math.
import type { RopeOptions, ScalingOptions } from '../types.js';
import { show } from '../scaling.js';
import { isObj, optNum, toList, type Obj } from './read.js';
import { GGUF_ARCHES } from '../generated/gguf-arches.js';
import type { GgufArch, GgufRopeType } from './gguf-arch-types.js';

// ------------------------------------------------------------------------------------------------
// GGUF metadata

// The architecture table is generated from llama.cpp's source (gguf-arches.ts says which commit).
export { LLAMA_CPP_COMMIT } from '../generated/gguf-arches.js';
import { LLAMA_CPP_TAG } from '../generated/gguf-arches.js';

/** GGUF architectures llama.cpp rotates (every name in its table but the LLAMA_ROPE_TYPE_NONE ones). */
export const GGUF_ARCHITECTURES: readonly string[] = Object.keys(GGUF_ARCHES).filter((a) => GGUF_ARCHES[a].rope !== 'none');

/** Tensors llama.cpp keeps some scalings in (Llama 3.1: rope_freqs; Phi-3: rope_factors_long/short). */
export interface GgufRopeTensors {
  ropeFreqs?: ArrayLike<number>;
  ropeFactorsShort?: ArrayLike<number>;
  ropeFactorsLong?: ArrayLike<number>;
  /** The context size llama.cpp runs with (n_ctx): it picks the LongRoPE long factors when this
   * exceeds rope.scaling.original_context_length. Default {arch}.context_length, llama.cpp's default. */
  contextLength?: number;
}

/** get_mscale in llama_context (transformers' YaRN get_mscale), in float64. */
function getMscale(scale: number, mscale: number): number {
  return scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;
}

/** Reads 'a.b.c' from flat keys ({'llama.rope.freq_base': ...}) or nested objects (node-llama-cpp). */
export function ggufGet(meta: Obj, key: string): unknown {
  if (key in meta) return meta[key];
  let cur: unknown = meta;
  for (const part of key.split('.')) {
    if (!isObj(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/** The metadata object (also node-llama-cpp's { metadata }) and its general.architecture. */
export function archOf(metadata: object): { meta: Obj; arch: string } {
  if (!isObj(metadata)) throw new TypeError(`metadata must be a GGUF key/value object, got ${show(metadata)}`);
  const meta: Obj = isObj(metadata.metadata) && !('general.architecture' in metadata) ? metadata.metadata : metadata;
  const arch = ggufGet(meta, 'general.architecture');
  if (typeof arch !== 'string') throw new TypeError(`metadata['general.architecture'] must be a string, got ${show(arch)}`);
  return { meta, arch };
}

/** Known names sharing a prefix with arch (at most 5). */
function nearArches(arch: string): string[] {
  const a = arch.toLowerCase();
  const stem = a.replace(/[^a-z]+$/, '');
  return GGUF_ARCHITECTURES.filter((n) => (stem.length >= 3 && n.startsWith(stem)) || (a.length >= 3 && n.startsWith(a))).slice(0, 5);
}

export function entryOf(arch: string): GgufArch {
  const e = Object.prototype.hasOwnProperty.call(GGUF_ARCHES, arch) ? GGUF_ARCHES[arch] : undefined;
  if (e === undefined) {
    // A short message: close names only, not every architecture on one line.
    const near = nearArches(arch);
    throw new TypeError(
      `general.architecture '${arch}' is not in rope-simd's table (the ${GGUF_ARCHITECTURES.length} architectures llama.cpp ${LLAMA_CPP_TAG} rotates)` +
        `${near.length > 0 ? `; close names: ${near.join(', ')}` : ''}. ` +
        "Build the Rope by hand from the architecture's llama.cpp code: new Rope({ headDim: <{arch}.rope.dimension_count>, " +
        "base: <{arch}.rope.freq_base>, style: 'half' for LLAMA_ROPE_TYPE_NEOX or 'interleaved' for LLAMA_ROPE_TYPE_NORM }) " +
        '(llama_model_rope_type in src/llama-model.cpp), with scaling if it reads rope.scaling.*',
    );
  }
  return e;
}

/** llama_model_rope_type() for this file: conditional entries follow llama.cpp's condition. */
function ropeTypeOf(meta: Obj, arch: string): Exclude<GgufRopeType, 'none'> {
  const r = entryOf(arch).rope;
  let kind: GgufRopeType;
  if (typeof r === 'string') kind = r;
  else if ('ifSections' in r) {
    // hparams.use_mrope(): rope_sections[0] > 0 && rope_sections[1] > 0 (llama-hparams.cpp)
    const raw = ggufGet(meta, `${arch}.rope.dimension_sections`);
    const s = raw === undefined ? [] : toList(`${arch}.rope.dimension_sections`, raw);
    kind = s.length >= 2 && s[0] > 0 && s[1] > 0 ? r.ifSections : r.else;
  } else {
    throw new TypeError(
      `general.architecture '${arch}': llama.cpp picks its rope type from '${r.condition}', which is not GGUF metadata rope-simd reads`,
    );
  }
  if (kind === 'none') throw new TypeError(`general.architecture '${arch}': llama.cpp applies no RoPE for it (LLAMA_ROPE_TYPE_NONE)`);
  return kind;
}

/**
 * RopeOptions from GGUF metadata, read the way llama.cpp's llama_model::load_hparams does:
 * {arch}.rope.freq_base (default 10000), {arch}.attention.key_length (else embedding_length /
 * head_count), {arch}.rope.dimension_count, {arch}.rope.scaling.{type, factor,
 * original_context_length, attn_factor, yarn_*}, {arch}.rope.dimension_sections, and the pair style
 * llama_model_rope_type() gives the architecture.
 */
export function ropeOptionsFromGGUF(metadata: object, tensors: GgufRopeTensors = {}): RopeOptions {
  if (!isObj(metadata)) throw new TypeError(`metadata must be a GGUF key/value object, got ${show(metadata)}`);
  if (!isObj(tensors)) throw new TypeError(`tensors must be an object of rope tensors (ropeFreqs, ropeFactorsShort, ropeFactorsLong), got ${show(tensors)}`);
  const { meta, arch } = archOf(metadata);
  const kind = ropeTypeOf(meta, arch);
  const entry = entryOf(arch);
  const k = (name: string) => `${arch}.${name}`;
  const get = (name: string) => optNum(k(name), ggufGet(meta, k(name)));

  const base = get('rope.freq_base') ?? 10000;
  let headDim = get('attention.key_length');
  if (headDim === undefined) {
    const embd = get('embedding_length');
    // head_count may be per layer (get_key_or_arr); llama.cpp divides by n_head() = layer 0's.
    const rawHeads = ggufGet(meta, k('attention.head_count'));
    const heads = Array.isArray(rawHeads) || ArrayBuffer.isView(rawHeads) ? toList(k('attention.head_count'), rawHeads)[0] : get('attention.head_count');
    if (embd === undefined || heads === undefined) {
      throw new TypeError(`metadata needs ${k('attention.key_length')}, or ${k('embedding_length')} and ${k('attention.head_count')}; got none`);
    }
    headDim = Math.floor(embd / heads);
  }
  let rotaryDim = get('rope.dimension_count') ?? headDim;
  // MLA (DeepSeek-V2/V3, MiniCPM3, ...): llama.cpp ropes the separate q_pe/k_pe view of
  // rope.dimension_count values, so that view is the head a Rope rotates.
  if (entryOf(arch).ropeView === 'q_pe') headDim = rotaryDim;
  const opts: RopeOptions = { headDim, rotaryDim, base, style: kind === 'norm' ? 'interleaved' : 'half' };
  const ctx = get('context_length');
  if (ctx !== undefined) opts.maxPositions = ctx;

  if (kind === 'mrope' || kind === 'imrope') {
    const raw = ggufGet(meta, k('rope.dimension_sections'));
    if (raw === undefined) throw new TypeError(`${k('rope.dimension_sections')} is required for architecture '${arch}', got undefined`);
    // llama.cpp keeps 4 sections [t, h, w, e] and 4 position rows (n_pos_per_embd() = 4; text
    // tokens get [p, p, p, 0]), and IMROPE sends the pairs past the sections to row 3: keep all 4.
    const sections = toList(k('rope.dimension_sections'), raw);
    if (sections.length !== 4) {
      throw new RangeError(`${k('rope.dimension_sections')} must have 4 entries (llama.cpp reads exactly 4: t, h, w, e), got ${sections.length}`);
    }
    opts.mropeSection = sections;
    if (kind === 'imrope') opts.mropeInterleaved = true;
  }

  // llama_model_base::load_hparams: the type defaults to "linear"; the factor is rope.scaling.factor,
  // else the old rope.scale_linear (freq_scale = 1/factor, 0 = unscaled); rope.scaling.attn_factor
  // multiplies cos and sin whatever the type (llama_context: yarn_attn_factor *= rope_attn_factor).
  const type = ggufGet(meta, k('rope.scaling.type')) ?? 'linear';
  const factor = get('rope.scaling.factor') ?? get('rope.scale_linear');
  const scaled = factor !== undefined && factor !== 0 && factor !== 1;
  const attnFactor = get('rope.scaling.attn_factor') ?? 1;
  const orig = get('rope.scaling.original_context_length') ?? ctx; // n_ctx_orig_yarn defaults to n_ctx_train
  const freqs = tensors.ropeFreqs === undefined ? undefined : toList('tensors.ropeFreqs', tensors.ropeFreqs);
  const unsupported = (what: string) =>
    new TypeError(`general.architecture '${arch}': ${what} in one file is a combination rope-simd cannot express yet`);
  if (freqs !== undefined && scaled && type !== 'longrope') throw unsupported(`the rope_freqs tensor with ${k('rope.scaling.factor')} ${factor}`);
  switch (type) {
    case 'none':
    case 'linear':
      if (attnFactor !== 1) throw unsupported(`${k('rope.scaling.attn_factor')} ${attnFactor} with rope.scaling.type '${type}'`);
      if (freqs !== undefined) opts.scaling = { type: 'freqFactors', factors: freqs };
      else if (scaled && type === 'linear') opts.scaling = { type: 'linear', factor };
      break;
    case 'yarn': {
      if (freqs !== undefined) throw unsupported('the rope_freqs tensor with YaRN');
      if (!scaled) {
        // freq_scale 1: ggml's YaRN ramp mixes two equal angles; only attn_factor is left
        if (attnFactor !== 1) throw unsupported(`${k('rope.scaling.attn_factor')} ${attnFactor} without a YaRN factor`);
        break;
      }
      if (orig === undefined) throw new TypeError(`${k('rope.scaling.original_context_length')} is required for 'yarn', got undefined`);
      const y: Extract<ScalingOptions, { type: 'yarn' }> = { type: 'yarn', factor, originalMaxPositions: orig };
      // beta_fast/slow: llama.cpp's defaults (32, 1) unless the architecture reads the keys.
      if (entry.yarn?.betaKeys) {
        const betaFast = get('rope.scaling.yarn_beta_fast');
        const betaSlow = get('rope.scaling.yarn_beta_slow');
        if (betaFast !== undefined) y.betaFast = betaFast;
        if (betaSlow !== undefined) y.betaSlow = betaSlow;
      }
      // The factor on cos and sin that ggml ends with: llama_context sets yarn_attn_factor =
      // get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dims) (or get_mscale(factor, 1)
      // without a log multiplier), divided by ggml's own 1 + 0.1 ln(factor), which ggml multiplies
      // back, times rope.scaling.attn_factor.
      let logMul = entry.yarn?.logMul ? (get('rope.scaling.yarn_log_multiplier') ?? 0) : 0;
      if (entry.yarn?.logMul === 'over0.1') logMul /= 0.1; // "cancel the factor from the convert script"
      const m = logMul !== 0 && entry.yarn?.mscaleIsAllDim && logMul !== 1 ? logMul : 1;
      y.attentionFactor = (logMul !== 0 ? getMscale(factor, m) / getMscale(factor, logMul) : getMscale(factor, 1)) * attnFactor;
      opts.scaling = y;
      break;
    }
    case 'longrope': {
      if (tensors.ropeFactorsShort === undefined || tensors.ropeFactorsLong === undefined) {
        throw new TypeError(
          "rope.scaling.type 'longrope': llama.cpp keeps the factors in the rope_factors_short/long tensors, " +
            'not in metadata; pass them as tensors.ropeFactorsShort and tensors.ropeFactorsLong, got none',
        );
      }
      if (orig === undefined) throw new TypeError(`${k('rope.scaling.original_context_length')} is required for 'longrope', got undefined`);
      if (scaled) throw unsupported(`${k('rope.scaling.factor')} ${factor} with LongRoPE factors`);
      // llama_model::get_rope_factors: the long factors when the context size (n_ctx) exceeds the
      // original context, for every call, else the short ones; cos and sin times attn_factor only.
      const n = tensors.contextLength === undefined ? ctx : optNum('tensors.contextLength', tensors.contextLength);
      const chosen = toList(
        n !== undefined && n > orig ? 'tensors.ropeFactorsLong' : 'tensors.ropeFactorsShort',
        n !== undefined && n > orig ? tensors.ropeFactorsLong : tensors.ropeFactorsShort,
      );
      opts.scaling = { type: 'longrope', shortFactor: chosen, longFactor: chosen, originalMaxPositions: orig, attentionFactor: attnFactor };
      break;
    }
    default:
      throw new TypeError(`${k('rope.scaling.type')} must be 'none', 'linear', 'yarn' or 'longrope', got ${show(type)}`);
  }
  return opts;
}
