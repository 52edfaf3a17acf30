// GGUF metadata -> RopeOptions, as llama.cpp reads it. Only maps names; lib/scaling.ts does the math.
import type { RopeOptions, ScalingOptions } from '../types.js';
import { show } from '../scaling.js';
import { isObj, optNum, toList, type Obj } from './read.js';
import { GGUF_ARCHES } from './gguf-arches.js';
import type { GgufArch, GgufRopeType } from './gguf-arch-types.js';

// ------------------------------------------------------------------------------------------------
// GGUF metadata

// The architecture table is generated from llama.cpp's source (gguf-arches.ts says which commit).
export { LLAMA_CPP_COMMIT } from './gguf-arches.js';

/** GGUF architectures llama.cpp rotates (every name in its table but the LLAMA_ROPE_TYPE_NONE ones). */
export const GGUF_ARCHITECTURES: readonly string[] = Object.keys(GGUF_ARCHES).filter((a) => GGUF_ARCHES[a].rope !== 'none');

/** Tensors llama.cpp keeps some scalings in (Llama 3.1: rope_freqs; Phi-3: rope_factors_long/short). */
export interface GgufRopeTensors {
  ropeFreqs?: ArrayLike<number>;
  ropeFactorsShort?: ArrayLike<number>;
  ropeFactorsLong?: ArrayLike<number>;
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

export function entryOf(arch: string): GgufArch {
  const e = Object.prototype.hasOwnProperty.call(GGUF_ARCHES, arch) ? GGUF_ARCHES[arch] : undefined;
  if (e === undefined) {
    throw new TypeError(`general.architecture '${arch}' is not one rope-simd knows; known: ${GGUF_ARCHITECTURES.join(', ')}`);
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
  // DeepSeek-V2/V3 (MLA): llama.cpp ropes the separate qk_rope_head_dim view (dimension_count).
  if (arch === 'deepseek2') headDim = rotaryDim;
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

  const type = ggufGet(meta, k('rope.scaling.type')) ?? (get('rope.scale_linear') !== undefined ? 'linear' : undefined);
  const factor = get('rope.scaling.factor') ?? get('rope.scale_linear');
  const orig = get('rope.scaling.original_context_length') ?? ctx;
  if (tensors.ropeFreqs !== undefined) {
    opts.scaling = { type: 'freqFactors', factors: toList('tensors.ropeFreqs', tensors.ropeFreqs) };
  }
  switch (type) {
    case undefined:
    case 'none':
      break;
    case 'linear':
      if (factor !== undefined && factor !== 0 && factor !== 1) opts.scaling = { type: 'linear', factor };
      break;
    case 'yarn': {
      if (factor === undefined) throw new TypeError(`${k('rope.scaling.factor')} is required for rope.scaling.type 'yarn', got undefined`);
      if (orig === undefined) throw new TypeError(`${k('rope.scaling.original_context_length')} is required for 'yarn', got undefined`);
      const y: Extract<ScalingOptions, { type: 'yarn' }> = { type: 'yarn', factor, originalMaxPositions: orig };
      const betaFast = get('rope.scaling.yarn_beta_fast');
      const betaSlow = get('rope.scaling.yarn_beta_slow');
      if (betaFast !== undefined) y.betaFast = betaFast;
      if (betaSlow !== undefined) y.betaSlow = betaSlow;
      const attn = get('rope.scaling.yarn_attn_factor');
      const logMul = get('rope.scaling.yarn_log_multiplier');
      if (attn !== undefined) y.attentionFactor = attn; // convert_hf_to_gguf writes HF's attention_factor here
      else if (logMul !== undefined && logMul !== 0) {
        // DeepSeek: yarn_log_multiplier = 0.1 * mscale_all_dim; llama.cpp cancels ggml's own mscale on
        // q and k (mscale = mscale_all_dim in V2/V3), leaving an attention factor of 1.
        y.mscale = y.mscaleAllDim = logMul / 0.1;
      }
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
      const l: Extract<ScalingOptions, { type: 'longrope' }> = {
        type: 'longrope',
        shortFactor: toList('tensors.ropeFactorsShort', tensors.ropeFactorsShort),
        longFactor: toList('tensors.ropeFactorsLong', tensors.ropeFactorsLong),
        originalMaxPositions: orig,
      };
      const attn = get('rope.scaling.attn_factor');
      if (attn !== undefined) l.attentionFactor = attn;
      if (ctx !== undefined) l.maxPositions = ctx;
      opts.scaling = l;
      break;
    }
    default:
      throw new TypeError(`${k('rope.scaling.type')} must be 'none', 'linear', 'yarn' or 'longrope', got ${show(type)}`);
  }
  return opts;
}
