// Hugging Face config.json -> RopeOptions, as transformers reads it. Only maps names; lib/scaling.ts
// does the math.
import type { RopeOptions, RopeStyle, ScalingOptions } from '../types.js';
import { show } from '../scaling.js';
import { isObj, optNum, toList, type Obj } from './read.js';

// ------------------------------------------------------------------------------------------------
// Hugging Face config.json

const HF_TYPES = ['default', 'mrope', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope', 'su'];

/**
 * RopeOptions from a parsed config.json, with transformers' reading of it (modeling_rope_utils and
 * the model's config class): rope_theta (GPT-NeoX: rotary_emb_base), head_dim else
 * hidden_size // num_attention_heads (GPT-J: n_embd, n_head), partial_rotary_factor / rotary_pct /
 * rotary_dim, max_position_embeddings (GPT-J: n_positions), rope_scaling (or v5 rope_parameters)
 * with rope_type or the legacy type key.
 */
export function ropeOptionsFromConfig(config: object): RopeOptions {
  if (!isObj(config)) throw new TypeError(`config must be a parsed config.json object, got ${show(config)}`);
  // Vision-language configs keep the language model's settings in text_config.
  const c: Obj =
    isObj(config.text_config) && config.num_attention_heads === undefined && config.head_dim === undefined
      ? { ...config, ...config.text_config }
      : config;
  const params = isObj(c.rope_parameters) ? c.rope_parameters : undefined; // transformers v5 layout
  const rs: Obj | undefined = isObj(c.rope_scaling) ? c.rope_scaling : params;
  if (c.rope_scaling !== undefined && c.rope_scaling !== null && !isObj(c.rope_scaling)) {
    throw new TypeError(`config.rope_scaling must be an object or null, got ${show(c.rope_scaling)}`);
  }

  const base =
    optNum('config.rope_theta', c.rope_theta) ??
    optNum('config.rope_parameters.rope_theta', params?.rope_theta) ??
    optNum('config.rotary_emb_base', c.rotary_emb_base) ??
    10000;
  const maxPositions =
    optNum('config.max_position_embeddings', c.max_position_embeddings) ?? optNum('config.n_positions', c.n_positions);

  // DeepSeek-V2/V3 (MLA): rope acts on the separate qk_rope_head_dim slice (q_pe, k_pe); transformers
  // sets head_dim = qk_rope_head_dim. V2 rotates (2j, 2j+1) pairs as complex numbers; V3 with
  // rope_interleave (default true) permutes pairs into rotate_half order, which rotates the same
  // pairs by the same angles (only the layout of q_pe/k_pe differs, which q.k ignores).
  const ropeHeadDim = optNum('config.qk_rope_head_dim', c.qk_rope_head_dim);
  let headDim: number;
  let rotaryDim: number;
  let style: RopeStyle = 'half';
  if (ropeHeadDim !== undefined) {
    headDim = rotaryDim = ropeHeadDim;
    style = c.rope_interleave === false ? 'half' : 'interleaved';
  } else {
    const explicit = optNum('config.head_dim', c.head_dim);
    if (explicit !== undefined) headDim = explicit;
    else {
      const hidden = optNum('config.hidden_size', c.hidden_size) ?? optNum('config.n_embd', c.n_embd);
      const heads = optNum('config.num_attention_heads', c.num_attention_heads) ?? optNum('config.n_head', c.n_head);
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
      headDim = Math.floor(hidden / heads);
    }
    const rotary = optNum('config.rotary_dim', c.rotary_dim);
    const partial =
      optNum('config.partial_rotary_factor', c.partial_rotary_factor) ??
      optNum('config.rope_parameters.partial_rotary_factor', params?.partial_rotary_factor) ??
      optNum('config.rotary_pct', c.rotary_pct);
    // transformers: dim = int(head_dim * partial_rotary_factor)
    rotaryDim = rotary ?? (partial !== undefined ? Math.trunc(headDim * partial) : headDim);
    if (c.model_type === 'gptj' || c.rotary_emb_interleaved === true || c.rope_interleaved === true || c.rotary_interleaved === true) {
      style = 'interleaved';
    }
  }

  const opts: RopeOptions = { headDim, rotaryDim, base, style };
  if (maxPositions !== undefined) opts.maxPositions = maxPositions;

  if (rs !== undefined) {
    const where = isObj(c.rope_scaling) ? 'config.rope_scaling' : 'config.rope_parameters';
    const rawType = rs.rope_type ?? rs.type ?? 'default';
    if (typeof rawType !== 'string' || !HF_TYPES.includes(rawType)) {
      throw new TypeError(`${where}.rope_type must be one of ${HF_TYPES.map((t) => `'${t}'`).join(', ')}, got ${show(rawType)}`);
    }
    const section = rs.mrope_section ?? c.mrope_section;
    if (section !== undefined && section !== null) opts.mropeSection = toList(`${where}.mrope_section`, section);
    const interleaved = rs.mrope_interleaved ?? c.mrope_interleaved;
    if (interleaved === true) opts.mropeInterleaved = true;
    const scaling = hfScaling(rawType, rs, c, where, maxPositions);
    if (scaling) opts.scaling = scaling;
  }
  return opts;
}

function hfScaling(type: string, rs: Obj, c: Obj, where: string, maxPositions: number | undefined): ScalingOptions | undefined {
  const factor = optNum(`${where}.factor`, rs.factor);
  const origInScaling = optNum(`${where}.original_max_position_embeddings`, rs.original_max_position_embeddings);
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
    case 'dynamic':
      // transformers' dynamic NTK compares with config.max_position_embeddings (it ignores
      // rope_scaling.original_max_position_embeddings, a TODO there).
      return {
        type: 'dynamic',
        factor: need(`${where}.factor`, factor),
        originalMaxPositions: need('config.max_position_embeddings', maxPositions),
      };
    case 'yarn': {
      // original context: rope_scaling.original_max_position_embeddings, else max_position_embeddings;
      // factor: given, else max_position_embeddings / original (DeepSeek-V3 note in transformers).
      const orig = origInScaling ?? need('config.max_position_embeddings', maxPositions);
      const f = factor ?? (maxPositions !== undefined && origInScaling !== undefined ? maxPositions / origInScaling : undefined);
      const y: Extract<ScalingOptions, { type: 'yarn' }> = {
        type: 'yarn',
        factor: need(`${where}.factor`, f),
        originalMaxPositions: orig,
      };
      // transformers: `rope_scaling.get("beta_fast") or 32` -- 0 and null mean the default.
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
        originalMaxPositions: need(`${where}.original_max_position_embeddings`, origInScaling),
      };
    case 'longrope':
    case 'su': {
      // Phi-3 keeps the pretraining context in a top-level original_max_position_embeddings.
      const topOrig = optNum('config.original_max_position_embeddings', c.original_max_position_embeddings);
      const l: Extract<ScalingOptions, { type: 'longrope' }> = {
        type: 'longrope',
        shortFactor: toList(`${where}.short_factor`, rs.short_factor),
        longFactor: toList(`${where}.long_factor`, rs.long_factor),
        originalMaxPositions: need('config.original_max_position_embeddings', topOrig ?? origInScaling ?? maxPositions),
      };
      if (factor !== undefined && topOrig === undefined) l.factor = factor;
      if (maxPositions !== undefined) l.maxPositions = maxPositions;
      const attentionFactor = optNum(`${where}.attention_factor`, rs.attention_factor);
      if (attentionFactor !== undefined) l.attentionFactor = attentionFactor;
      return l;
    }
  }
  return undefined;
}

