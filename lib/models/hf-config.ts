// Hugging Face config.json -> RopeOptions, as transformers 5 reads it (modeling_rope_utils.py, the
// family's config class and modeling code). Only maps names; lib/scaling.ts does the math, the family
// table (hf-families.ts, generated from transformers' source) gives pair styles and default thetas.
import type { RopeOptions, RopeStyle, ScalingOptions } from '../types.js';
import { show } from '../scaling.js';
import type { FromConfigOptions } from './config-types.js';
import { HF_FAMILY_STYLE, type HfFamily } from '../generated/hf-families.js';
import { isObj, optNum, toList, type Obj } from './read.js';
import { checkInterpretable } from './hf-refuse.js';

const HF_TYPES = ['default', 'mrope', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope', 'su', 'proportional'];

/** Where composite configs keep the text decoder's config, as transformers' get_text_config(decoder=True)
 * finds it: the overrides (Qwen-Omni: thinker_config, then its text_config; ColQwen: vlm_config; Dia,
 * Canary: decoder_config), else the one of decoder / generator / text_config present. */
function textSub(c: Obj): Obj | undefined {
  for (const k of ['thinker_config', 'vlm_config']) {
    if (isObj(c[k])) return textSub(c[k] as Obj) ?? (c[k] as Obj);
  }
  if (isObj(c.decoder_config)) return c.decoder_config;
  for (const k of ['decoder', 'generator', 'text_config']) if (isObj(c[k])) return c[k] as Obj;
  return undefined;
}

const OTHER_PART_KEYS = [
  'head_dim', 'hidden_size', 'num_attention_heads', 'num_hidden_layers', 'max_position_embeddings', 'partial_rotary_factor',
  'rotary_dim', 'layer_types',
];

/** The language model's settings: composite configs keep them in a sub-config (text_config, ...). */
export function textConfig(config: object): Obj {
  if (!isObj(config)) throw new TypeError(`config must be a parsed config.json object, got ${show(config)}`);
  const t = textSub(config);
  if (t === undefined) return config;
  // Sizes at the top of a composite config belong to another part (Music Flamingo's head_dim is its
  // audio rotary's); rope keys there are older configs' spelling for the text model.
  const top: Obj = { ...config };
  for (const k of OTHER_PART_KEYS) delete top[k];
  // the text model's own model_type (gemma3_text, llama4_text, ...) names its family
  return { ...top, ...t, model_type: t.model_type ?? config.model_type };
}

export function familyOf(c: Obj): HfFamily | undefined {
  const t = c.model_type;
  if (typeof t !== 'string') return undefined;
  return Object.prototype.hasOwnProperty.call(HF_FAMILY_STYLE, t) ? HF_FAMILY_STYLE[t] : undefined;
}

/**
 * transformers' interleaved recomposition (Qwen3-VL, Qwen3-Omni, Qwen4) reads row r >= 1 for pair j
 * when j % n == r and j < n * s_r, whatever the sections sum to: a section longer than the head is
 * cut where the pairs end (Qwen3-Omni's talker: [24, 20, 20] on 32 pairs) and the pairs past the
 * sections read row 0 (Qwen4: [11, 11, 10] on 128 pairs). The same pair table with sections that
 * sum to the pair count: each s_r (r >= 1) cut to the pairs j % n == r below it, s_0 the rest.
 */
function interleavedSection(section: number[], pairs: number): number[] {
  const n = section.length;
  if (n < 2 || n > 3 || section.some((v) => !Number.isInteger(v) || v < 0)) return section;
  const out = section.map((v, r) => (r === 0 ? 0 : Math.min(v, Math.ceil((pairs - r) / n))));
  out[0] = pairs - out.reduce((a, b) => a + b, 0);
  return out;
}

/** Layer types whose rope parameters a nested transformers-5 rope_parameters may hold. */
export const NESTED_KEYS = ['full_attention', 'sliding_attention', 'chunked_attention', 'attention', 'hybrid', 'hybrid_sliding'];

interface LayerParams {
  where: string;
  /** the rope_scaling / rope_parameters block for this layer type (undefined: none) */
  rs: Obj | undefined;
  base: number;
}

/**
 * The rope parameters one layer type uses. transformers 5 nests rope_parameters per layer type
 * ({full_attention: {...}, sliding_attention: {...}}); older configs are flat, and Gemma 3/3n keep
 * the sliding layers' base in rope_local_base_freq (their scaling applies to full layers only).
 */
function layerParams(c: Obj, fam: HfFamily | undefined, layerType: string): LayerParams {
  if (c.rope_scaling !== undefined && c.rope_scaling !== null && !isObj(c.rope_scaling)) {
    throw new TypeError(`config.rope_scaling must be an object or null, got ${show(c.rope_scaling)}`);
  }
  if (c.rope_parameters !== undefined && c.rope_parameters !== null && !isObj(c.rope_parameters)) {
    throw new TypeError(`config.rope_parameters must be an object or null, got ${show(c.rope_parameters)}`);
  }
  const theta = fam?.defaultTheta;
  const local = typeof theta === 'object';
  const defaultBase = typeof theta === 'number' ? theta : local ? theta.global : 10000;
  // (DBRX keeps rope_theta in attn_config)
  const topBase = (): number | undefined =>
    optNum('config.rope_theta', c.rope_theta) ??
    optNum('config.rotary_emb_base', c.rotary_emb_base) ??
    (isObj(c.attn_config) ? optNum('config.attn_config.rope_theta', c.attn_config.rope_theta) : undefined);

  let where = isObj(c.rope_scaling) ? 'config.rope_scaling' : 'config.rope_parameters';
  let rs: Obj | undefined = isObj(c.rope_scaling) ? c.rope_scaling : isObj(c.rope_parameters) ? c.rope_parameters : undefined;
  if (rs === undefined && fam?.classRope !== undefined) {
    // No rope block: the config class fills in its own (GLM's partial_rotary_factor 0.5, GPT-OSS's
    // YaRN, Gemma 4's per-layer-type parameters); top-level rope_theta / partial_rotary_factor still
    // win over flat defaults, and nested defaults apply only without top-level thetas (Gemma 3 reads those).
    const cr = fam.classRope as Obj;
    const nestedDefault = NESTED_KEYS.some((k) => isObj(cr[k]));
    if (!nestedDefault) {
      rs = { ...cr };
      if (c.rope_theta !== undefined && c.rope_theta !== null) delete rs.rope_theta;
      if (c.partial_rotary_factor !== undefined && c.partial_rotary_factor !== null) delete rs.partial_rotary_factor;
      where = `the '${String(c.model_type)}' config class's default rope_parameters`;
    } else if ((c.rope_theta === undefined || c.rope_theta === null) && c.rope_local_base_freq === undefined) {
      rs = cr;
      where = `the '${String(c.model_type)}' config class's default rope_parameters`;
    }
  }
  const nested = rs !== undefined && NESTED_KEYS.some((k) => isObj(rs![k]));
  if (nested) {
    const key = isObj(rs![layerType]) ? layerType : 'full_attention';
    if (!isObj(rs![key])) {
      const wanted = layerType === 'full_attention' ? "a 'full_attention' object" : `a '${layerType}' or 'full_attention' object`;
      throw new TypeError(`${where} is nested per layer type and needs ${wanted}, got ${show(rs!.full_attention)} for 'full_attention' (keys: ${Object.keys(rs!).join(', ')})`);
    }
    where = `${where}.${key}`;
    rs = rs![key] as Obj;
    const base = optNum(`${where}.rope_theta`, rs.rope_theta) ?? topBase() ?? (key === 'sliding_attention' && local ? theta.local : defaultBase);
    return { where, rs, base };
  }
  if (layerType === 'sliding_attention' && (local || c.rope_local_base_freq !== undefined)) {
    // (ModernBERT's published spelling: local_rope_theta)
    const base =
      optNum('config.rope_local_base_freq', c.rope_local_base_freq) ??
      (fam?.globalEvery !== undefined ? optNum('config.local_rope_theta', c.local_rope_theta) : undefined) ??
      (local ? theta.local : 10000);
    return { where: 'config.rope_local_base_freq', rs: undefined, base };
  }
  if (fam?.flatScalingFullOnly && layerType !== 'full_attention' && rs !== undefined) {
    // OLMo 3 / T5Gemma 2: the config class nests a flat rope_scaling under full_attention only; the
    // other layers rotate unscaled (OLMo 3's keep its default_theta: rope_theta went to the full layers)
    const base = fam.slidingThetaDefault ? defaultBase : (optNum(`${where}.rope_theta`, rs.rope_theta) ?? topBase() ?? defaultBase);
    return { where, rs: undefined, base };
  }
  const globalTheta = fam?.globalEvery !== undefined ? optNum('config.global_rope_theta', c.global_rope_theta) : undefined;
  const base = optNum(`${where}.rope_theta`, rs?.rope_theta) ?? topBase() ?? globalTheta ?? defaultBase;
  return { where, rs, base };
}

/** Why the family's code applies no RoPE for this config (a switch such as ESM's
 * position_embedding_type or Zamba2's use_mem_rope is off), or null. */
export function ropeSwitchedOff(c: Obj, fam: HfFamily | undefined): string | null {
  if (fam?.ropeIfTheta) {
    // OLMo hybrid builds no rotary module when rope_theta is null (its released checkpoints)
    const rp = isObj(c.rope_parameters) ? c.rope_parameters : isObj(c.rope_scaling) ? c.rope_scaling : undefined;
    const theta = rp?.rope_theta ?? c.rope_theta;
    if (theta === undefined || theta === null) {
      return `config.rope_parameters.rope_theta is ${show(theta ?? null)}: the '${String(c.model_type)}' family's code builds no rotary embedding then`;
    }
  }
  const sw = fam?.ropeSwitch;
  if (sw === undefined) return null;
  const v = c[sw.key];
  if (v === sw.value || (v === undefined && sw.whenAbsent)) return null;
  return `config.${sw.key} is ${show(v)}: the '${String(c.model_type)}' family's code applies RoPE only when it is ${show(sw.value)}`;
}

/**
 * The text config as one layer sees it. Gemma 4: full-attention layers take head_dim =
 * global_head_dim (the config class's default when absent), and per_layer_config[i] (as
 * transformers 5 saves it, keys '05', ...) overrides layer i's keys; without a layer index, the
 * first layer of that type decides (fromConfig's full-attention layers).
 */
export function withLayerOverride(c: Obj, fam: HfFamily | undefined, layerType: string, layer: number | undefined): Obj {
  if (fam?.globalHeadDim === undefined) return c;
  const plc = c.per_layer_config;
  const types = Array.isArray(c.layer_types) ? (c.layer_types as unknown[]) : [];
  const index = layer ?? types.indexOf(layerType);
  let over: Obj | undefined;
  if (isObj(plc)) {
    for (const [k, v] of Object.entries(plc)) if (Number(k) === index && isObj(v)) over = v;
    if (over === undefined && index < 0 && isObj(plc[layerType])) over = plc[layerType] as Obj;
  } else if (plc !== undefined && plc !== null) {
    throw new TypeError(`config.per_layer_config must be an object of per-layer overrides, got ${show(plc)}`);
  } else if (layerType === 'full_attention') {
    over = { head_dim: optNum('config.global_head_dim', c.global_head_dim) ?? fam.globalHeadDim };
  }
  return over === undefined ? c : { ...c, ...over };
}

/** Pair style: the family's (from its modeling code), else the keys older code looked at. */
function styleOf(c: Obj, fam: HfFamily | undefined): RopeStyle {
  if (fam !== undefined) {
    // DeepSeek-V3 and kin: rope_interleave (default true) rotates adjacent pairs (2j, 2j+1), then
    // transformers writes them to rotate_half slots; q.k is the same, rope-simd keeps them adjacent.
    if (fam.interleaveKey !== undefined) return c[fam.interleaveKey] === false ? 'half' : 'interleaved';
    return fam.style;
  }
  if (c.qk_rope_head_dim !== undefined && c.qk_rope_head_dim !== null) return c.rope_interleave === false ? 'half' : 'interleaved';
  if (c.model_type === 'gptj' || c.rotary_emb_interleaved === true || c.rope_interleaved === true || c.rotary_interleaved === true) {
    return 'interleaved';
  }
  return 'half';
}

function headDimOf(c: Obj): number {
  // head size under the names families use for it (JetMoE: kv_channels)
  const explicit =
    optNum('config.head_dim', c.head_dim) ??
    optNum('config.attention_head_dim', c.attention_head_dim) ??
    optNum('config.kv_channels', c.kv_channels);
  if (explicit !== undefined) return explicit;
  const hidden = optNum('config.hidden_size', c.hidden_size) ?? optNum('config.n_embd', c.n_embd) ?? optNum('config.d_model', c.d_model);
  const heads =
    optNum('config.num_attention_heads', c.num_attention_heads) ??
    optNum('config.n_head', c.n_head) ??
    optNum('config.n_heads', c.n_heads) ??
    optNum('config.decoder_num_attention_heads', c.decoder_num_attention_heads);
  if (hidden === undefined || heads === undefined) {
    throw new TypeError(
      'config needs head_dim, or hidden_size and num_attention_heads, to know the head size; got ' +
        `head_dim ${show(c.head_dim)}, hidden_size ${show(hidden)}, num_attention_heads ${show(heads)}`,
    );
  }
  // (a head count of 0, negative or fractional would make a meaningless headDim: name it here)
  if (!Number.isInteger(heads) || heads <= 0) {
    const name = optNum('config.num_attention_heads', c.num_attention_heads) !== undefined ? 'config.num_attention_heads' : 'config.n_head';
    throw new RangeError(`${name} must be a positive integer (head_dim = hidden_size / ${name.slice(7)}), got ${show(heads)}`);
  }
  return Math.floor(hidden / heads);
}

/**
 * RopeOptions for the layers of one layer type ('full_attention' by default: what transformers calls
 * the model's rotary embedding) from a parsed config.json: rope_theta (GPT-NeoX: rotary_emb_base;
 * else the config class's default_theta), head_dim else hidden_size // num_attention_heads (GPT-J:
 * n_embd, n_head; MLA: qk_rope_head_dim), partial_rotary_factor / rotary_pct / rotary_dim,
 * max_position_embeddings (GPT-J: n_positions), rope_scaling or transformers-5 rope_parameters
 * (flat or nested per layer type) with rope_type or the legacy type key.
 */
export function ropeOptionsFromConfig(config: object, layerType = 'full_attention', options: FromConfigOptions = {}): RopeOptions {
  const tc = textConfig(config);
  const fam = familyOf(tc);
  checkInterpretable(tc, fam, options);
  const c = withLayerOverride(tc, fam, layerType, undefined);
  if (fam?.noRope) {
    throw new TypeError(
      `config.model_type '${String(c.model_type)}' applies no RoPE in transformers (its attention uses no rotary embedding), so there is no rotation to build; got this model_type`,
    );
  }
  const off = ropeSwitchedOff(c, fam);
  if (off !== null) throw new TypeError(`${off}, so there is no rotation to build`);
  const { where, rs, base } = layerParams(c, fam, layerType);
  const maxPositions =
    optNum('config.max_position_embeddings', c.max_position_embeddings) ?? optNum('config.n_positions', c.n_positions);

  // MLA (DeepSeek-V2/V3, MiniCPM3, ...): rope acts on the separate qk_rope_head_dim slice (q_pe, k_pe).
  const ropeHeadDim = optNum('config.qk_rope_head_dim', c.qk_rope_head_dim);
  let headDim: number;
  let rotaryDim: number;
  if (ropeHeadDim !== undefined) headDim = rotaryDim = ropeHeadDim;
  else {
    headDim = headDimOf(c);
    // rotary_dim only where the family's code reads it (MiniMax-M3-VL carries one its rotary ignores)
    const rotary = fam === undefined || fam.readsRotaryDim ? optNum('config.rotary_dim', c.rotary_dim) : undefined;
    const partial =
      optNum(`${where}.partial_rotary_factor`, rs?.partial_rotary_factor) ??
      optNum('config.partial_rotary_factor', c.partial_rotary_factor) ??
      optNum('config.rotary_pct', c.rotary_pct);
    // transformers: dim = int(head_dim * partial_rotary_factor)
    rotaryDim = rotary ?? (partial !== undefined ? Math.trunc(headDim * partial) : headDim);
  }

  const opts: RopeOptions = { headDim, rotaryDim, base, style: styleOf(c, fam) };
  if (maxPositions !== undefined) opts.maxPositions = maxPositions;

  if (rs !== undefined) {
    const rawType = rs.rope_type ?? rs.type ?? 'default';
    if (typeof rawType !== 'string' || !HF_TYPES.includes(rawType)) {
      throw new TypeError(`${where}.rope_type must be one of ${HF_TYPES.map((t) => `'${t}'`).join(', ')}, got ${show(rawType)}`);
    }
    // M-RoPE: the family's text rotary decides the layout (and a section default) where it has one
    const section = rs.mrope_section ?? c.mrope_section ?? fam?.mropeDefault;
    if (section !== undefined && section !== null) opts.mropeSection = toList(`${where}.mrope_section`, section);
    const interleaved = fam?.mropeDefault !== undefined ? fam.mropeInterleaved : (rs.mrope_interleaved ?? c.mrope_interleaved);
    if (interleaved === true || interleaved === 'hw') opts.mropeInterleaved = interleaved;
    if (interleaved === true && opts.mropeSection !== undefined) opts.mropeSection = interleavedSection(opts.mropeSection, rotaryDim / 2);
    if (fam?.alphaBase && rawType === 'dynamic' && rs.alpha !== undefined && rs.alpha !== null && rs.alpha !== 0) {
      // HunYuan's rotary module: dynamic with alpha is a fixed base rope_theta * alpha ** (d / (d - 2)),
      // d = config.head_dim (past max_position_embeddings its dynamic update recomputes without alpha)
      const alpha = optNum(`${where}.alpha`, rs.alpha)!;
      opts.base = base * Math.pow(alpha, headDim / (headDim - 2));
      return opts;
    }
    const scaling = hfScaling(rawType, rs, c, where, maxPositions);
    if (scaling) opts.scaling = scaling;
    // proportional keeps the whole head as rotary dim; its fraction zeroes the trailing frequencies
    if (scaling?.type === 'proportional') opts.rotaryDim = headDim;
  }
  return opts;
}

function hfScaling(type: string, rs: Obj, c: Obj, where: string, maxPositions: number | undefined): ScalingOptions | undefined {
  const factor = optNum(`${where}.factor`, rs.factor);
  // transformers 5 (standardize_rope_params): for llama3/yarn/longrope a top-level
  // original_max_position_embeddings replaces the one in rope_parameters; else it defaults to
  // max_position_embeddings.
  const topOrig = optNum('config.original_max_position_embeddings', c.original_max_position_embeddings);
  const origInScaling = topOrig ?? optNum(`${where}.original_max_position_embeddings`, rs.original_max_position_embeddings);
  const need = (name: string, v: number | undefined): number => {
    if (v === undefined) throw new TypeError(`${name} is required for rope_type '${type}', got undefined`);
    return v;
  };
  switch (type) {
    case 'default':
    case 'mrope': // Qwen2-VL: Qwen2VLConfig maps 'mrope' to 'default' plus mrope_section
      return undefined;
    case 'linear':
      return { type: 'linear', factor: need(`${where}.factor`, factor) };
    case 'proportional': {
      // Gemma 4: the first partial_rotary_factor of the pairs rotate with exponents over the whole
      // head, the rest keep angle 0; all frequencies divided by factor (default 1).
      const p: Extract<ScalingOptions, { type: 'proportional' }> = { type: 'proportional' };
      if (factor !== undefined) p.factor = factor;
      const fraction = optNum(`${where}.partial_rotary_factor`, rs.partial_rotary_factor) ?? optNum('config.partial_rotary_factor', c.partial_rotary_factor);
      if (fraction !== undefined) p.rotaryFraction = fraction;
      return p;
    }
    case 'dynamic':
      // transformers' dynamic NTK compares with config.max_position_embeddings.
      return {
        type: 'dynamic',
        factor: need(`${where}.factor`, factor),
        originalMaxPositions: need('config.max_position_embeddings', maxPositions),
      };
    case 'yarn': {
      const orig = origInScaling ?? need('config.max_position_embeddings', maxPositions);
      // factor: given, else max_position_embeddings / original
      const f = factor ?? (maxPositions !== undefined && origInScaling !== undefined ? maxPositions / origInScaling : undefined);
      const y: Extract<ScalingOptions, { type: 'yarn' }> = {
        type: 'yarn',
        factor: need(`${where}.factor`, f),
        originalMaxPositions: orig,
      };
      // transformers: `rope_parameters.get("beta_fast") or 32` -- 0 and null mean the default.
      const betaFast = optNum(`${where}.beta_fast`, rs.beta_fast);
      const betaSlow = optNum(`${where}.beta_slow`, rs.beta_slow);
      if (betaFast) y.betaFast = betaFast;
      if (betaSlow) y.betaSlow = betaSlow;
      const mscale = optNum(`${where}.mscale`, rs.mscale);
      const mscaleAllDim = optNum(`${where}.mscale_all_dim`, rs.mscale_all_dim);
      const attentionFactor = optNum(`${where}.attention_factor`, rs.attention_factor);
      if (mscale !== undefined) y.mscale = mscale;
      if (mscaleAllDim !== undefined) y.mscaleAllDim = mscaleAllDim;
      if (attentionFactor !== undefined) y.attentionFactor = attentionFactor;
      if (rs.truncate !== undefined && rs.truncate !== null) {
        if (typeof rs.truncate !== 'boolean') throw new TypeError(`${where}.truncate must be a boolean, got ${show(rs.truncate)}`);
        y.truncate = rs.truncate;
      }
      return y;
    }
    case 'llama3':
      return {
        type: 'llama3',
        factor: need(`${where}.factor`, factor),
        lowFreqFactor: need(`${where}.low_freq_factor`, optNum(`${where}.low_freq_factor`, rs.low_freq_factor)),
        highFreqFactor: need(`${where}.high_freq_factor`, optNum(`${where}.high_freq_factor`, rs.high_freq_factor)),
        originalMaxPositions: need(`${where}.original_max_position_embeddings`, origInScaling ?? maxPositions),
      };
    case 'longrope':
    case 'su': {
      const short = toList(`${where}.short_factor`, rs.short_factor);
      const l: Extract<ScalingOptions, { type: 'longrope' }> = {
        type: 'longrope',
        shortFactor: short,
        longFactor: toList(`${where}.long_factor`, rs.long_factor),
        originalMaxPositions: need('config.original_max_position_embeddings', origInScaling ?? maxPositions),
      };
      // transformers 5: factor if given, else max_position_embeddings / original
      if (factor !== undefined) l.factor = factor;
      if (maxPositions !== undefined) l.maxPositions = maxPositions;
      const attentionFactor = optNum(`${where}.attention_factor`, rs.attention_factor);
      if (attentionFactor !== undefined) l.attentionFactor = attentionFactor;
      if (c.model_type === 'phimoe') {
        // PhimoeRotaryEmbedding.forward recomputes inv_freq without seq_len (so always the short
        // factors) and multiplies cos/sin by long_mscale past the original context, short_mscale within.
        l.longFactor = short;
        l.shortMscale = need(`${where}.short_mscale`, optNum(`${where}.short_mscale`, rs.short_mscale));
        l.longMscale = need(`${where}.long_mscale`, optNum(`${where}.long_mscale`, rs.long_mscale));
      }
      return l;
    }
  }
  return undefined;
}
