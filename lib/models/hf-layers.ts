// Per-layer RoPE from a Hugging Face config.json, as transformers 5 builds each decoder layer:
// the layer's type (config.layer_types, else the config class's default pattern), NoPE layers
// (no_rope_layers), families that rotate only in sliding-window layers, and layers without
// attention (linear attention, Mamba, convolution) -> null.
import type { RopeOptions } from '../types.js';
import { show } from '../scaling.js';
import type { FromConfigOptions } from './config-types.js';
import { familyOf, ropeOptionsFromConfig, ropeSwitchedOff, textConfig, withLayerOverride } from './hf-config.js';
import { checkInterpretable } from './hf-refuse.js';
import { isObj, optNum, type Obj } from './read.js';

const ATTENTION = new Set([
  'full_attention', 'sliding_attention', 'chunked_attention', 'indexed_attention', 'attention', 'global_attention', 'local_attention', 'hybrid',
  // Zaya: attention in each hybrid block, with or without a sliding window
  'hybrid_sliding',
]);
const NO_ATTENTION = new Set([
  'linear_attention', 'mamba', 'mamba2', 'conv', 'short_conv', 'ssm', 'recurrent', 'rwkv', 'deltanet', 'gated_deltanet',
  // Nemotron-H block types without attention
  'mlp', 'moe',
]);

// The default layer_types of config classes that derive them from a pattern key (transformers 5.18,
// models/<family>/configuration_<family>.py __post_init__). Only layer types that change the rotation
// matter here; families not listed make every layer 'full_attention'.
function every(n: number, period: number, last: string, other: string): string[] {
  return Array.from({ length: n }, (_, i) => ((i + 1) % period === 0 ? last : other));
}
const PATTERNS: Record<string, (c: Obj, n: number) => string[]> = {
  gemma2: (_c, n) => every(n, 2, 'full_attention', 'sliding_attention'),
  gpt_oss: (_c, n) => every(n, 2, 'full_attention', 'sliding_attention'),
  gemma3_text: (c, n) => every(n, pattern(c, 6), 'full_attention', 'sliding_attention'),
  cohere2: (c, n) => every(n, pattern(c, 4), 'full_attention', 'sliding_attention'),
  gemma3n_text: (_c, n) => every(n, 5, 'full_attention', 'sliding_attention'),
  // Gemma 4: 5 sliding : 1 full, and the last layer forced to full attention
  gemma4_text: (_c, n) => lastFull(every(n, 6, 'full_attention', 'sliding_attention')),
  gemma4_unified_text: (_c, n) => lastFull(every(n, 6, 'full_attention', 'sliding_attention')),
  qwen3_next: (c, n) => every(n, optNum('config.full_attention_interval', c.full_attention_interval) ?? 4, 'full_attention', 'linear_attention'),
  exaone4: (c, n) => {
    if (c.sliding_window === null) return every(n, 1, 'full_attention', 'full_attention');
    const p = c.sliding_window_pattern;
    // published EXAONE 4 configs spell the pattern as a string: 'LLLG' (L = local/sliding, G = global)
    if (typeof p === 'string' && /^[LG]+$/.test(p)) {
      return Array.from({ length: n }, (_, i) => (p[i % p.length] === 'G' ? 'full_attention' : 'sliding_attention'));
    }
    return every(n, pattern(c, 4), 'full_attention', 'sliding_attention');
  },
};

function lastFull(types: string[]): string[] {
  types[types.length - 1] = 'full_attention';
  return types;
}

function pattern(c: Obj, fallback: number): number {
  const p = optNum('config.sliding_window_pattern', c.sliding_window_pattern) ?? fallback;
  if (!Number.isInteger(p) || p < 1) throw new RangeError(`config.sliding_window_pattern must be a positive integer, got ${show(p)}`);
  return p;
}

function layerTypes(c: Obj, n: number): string[] {
  const lt = c.layer_types;
  if (lt !== undefined && lt !== null) {
    if (!Array.isArray(lt) || lt.length < n) {
      throw new TypeError(`config.layer_types must be an array of ${n} layer type names (num_hidden_layers), got ${show(lt)}`);
    }
    for (let i = 0; i < n; i++) {
      const t = lt[i];
      if (typeof t !== 'string' || (!ATTENTION.has(t) && !NO_ATTENTION.has(t))) {
        throw new TypeError(
          `config.layer_types[${i}] must be one of ${[...ATTENTION, ...NO_ATTENTION].map((x) => `'${x}'`).join(', ')}, got ${show(t)}`,
        );
      }
    }
    return lt.slice(0, n) as string[];
  }
  // Block-type lists (Bamba, Granite hybrid, Jamba, RecurrentGemma): 'attention' layers attend
  const blocks = c.layers_block_type;
  if (blocks !== undefined && blocks !== null) {
    if (!Array.isArray(blocks) || blocks.length < n) {
      throw new TypeError(`config.layers_block_type must be an array of ${n} block type names (one per layer), got ${show(blocks)}`);
    }
    return blocks.slice(0, n).map((b, i) => {
      if (b === 'attention' || b === 'hybrid') return 'full_attention';
      if (typeof b === 'string' && NO_ATTENTION.has(b)) return b;
      throw new TypeError(`config.layers_block_type[${i}] must be 'attention' or one of ${[...NO_ATTENTION].map((x) => `'${x}'`).join(', ')}, got ${show(b)}`);
    });
  }
  // Bamba-style hybrids: attention only at attn_layer_indices (none listed: all Mamba)
  if (Object.prototype.hasOwnProperty.call(c, 'attn_layer_indices')) {
    const idx = c.attn_layer_indices;
    if (idx !== null && !Array.isArray(idx)) throw new TypeError(`config.attn_layer_indices must be an array of layer indices or null, got ${show(idx)}`);
    const set = new Set((idx ?? []) as unknown[]);
    return Array.from({ length: n }, (_, i) => (set.has(i) ? 'attention' : 'mamba'));
  }
  const model = typeof c.model_type === 'string' ? c.model_type : '';
  const fam = familyOf(c);
  if (fam?.globalEvery !== undefined) {
    // ModernBERT: layer i is global when i % global_attn_every_n_layers == 0
    const every = optNum('config.global_attn_every_n_layers', c.global_attn_every_n_layers) ?? fam.globalEvery;
    if (!Number.isInteger(every) || every < 1) throw new RangeError(`config.global_attn_every_n_layers must be a positive integer, got ${show(every)}`);
    return Array.from({ length: n }, (_, i) => (i % every === 0 ? 'full_attention' : 'sliding_attention'));
  }
  const rule = PATTERNS[model] ?? PATTERNS[model.replace(/_text$/, '')] ?? PATTERNS[`${model}_text`];
  return rule ? rule(c, n) : every(n, 1, 'full_attention', 'full_attention');
}

/** no_rope_layers[i] (1 = rotate, 0 = NoPE); an empty or absent list: every no_rope_layer_interval-th layer is NoPE. */
function ropeFlags(c: Obj, n: number): boolean[] {
  const list = c.no_rope_layers;
  if (Array.isArray(list) && list.length > 0) {
    if (list.length < n) throw new TypeError(`config.no_rope_layers must have num_hidden_layers = ${n} entries, got ${list.length}`);
    return list.slice(0, n).map((v, i) => {
      if (v !== 0 && v !== 1 && v !== true && v !== false) throw new TypeError(`config.no_rope_layers[${i}] must be 0 or 1, got ${show(v)}`);
      return v === 1 || v === true;
    });
  }
  if (list !== undefined && list !== null && !Array.isArray(list)) throw new TypeError(`config.no_rope_layers must be an array, got ${show(list)}`);
  const interval = optNum('config.no_rope_layer_interval', c.no_rope_layer_interval) ?? 4;
  return Array.from({ length: n }, (_, i) => (i + 1) % interval !== 0);
}

/** For each decoder layer: the layer type whose rotation it applies, or null (no rotation). */
/** The decoder layer count under the names families give it (GPT-J: n_layer; DBRX: n_layers). */
function layerCount(c: Obj): number {
  for (const key of ['num_hidden_layers', 'n_layer', 'n_layers', 'num_layers']) {
    const n = optNum(`config.${key}`, c[key]);
    if (n === undefined) continue;
    if (!Number.isInteger(n) || n < 1) throw new TypeError(`config.${key} must be a positive integer (the decoder layer count), got ${show(c[key])}`);
    return n;
  }
  const lt = c.layer_types ?? c.layers_block_type;
  if (Array.isArray(lt) && lt.length > 0) return lt.length;
  throw new TypeError(
    `config.num_hidden_layers must be a positive integer (the decoder layer count; also read as n_layer, n_layers, num_layers or the length of layer_types), got ${show(c.num_hidden_layers)}`,
  );
}

/** For each decoder layer: the layer type whose rotation it applies, or null (no rotation). Layer
 * types may carry a per-layer base ('full_attention@500000', Granite SWA's layer_rope_theta). */
export function ropeLayerTypesFromConfig(config: object): (string | null)[] {
  const c = textConfig(config);
  const n = layerCount(c);
  const fam = familyOf(c);
  if (fam?.noRope || ropeSwitchedOff(c, fam) !== null) return Array.from({ length: n }, () => null);
  const types = layerTypes(c, n);
  const rope = fam?.noRopeLayers ? ropeFlags(c, n) : null;
  const anySliding = types.includes('sliding_attention');
  // Mllama: cross-attention layers attend to the image without rotation
  const cross = fam?.crossAttentionLayers && Array.isArray(c.cross_attention_layers) ? new Set(c.cross_attention_layers as unknown[]) : null;
  // Cohere2-MoE: a dense-MLP layer rotates too when prefix_dense_sliding_window_pattern is 1
  const mlpTypes = fam?.forceRopeDense && c.prefix_dense_sliding_window_pattern === 1 && Array.isArray(c.mlp_layer_types) ? c.mlp_layer_types : null;
  // Granite SWA: layer_rope_theta[i] is layer i's base, 0 = no rotation; Muse Glimmer: 0 = no rotation
  // (without the list its config class makes every n-th layer from the last NoPE)
  let thetas = fam?.layerTheta && Array.isArray(c.layer_rope_theta) ? (c.layer_rope_theta as unknown[]) : null;
  if (thetas === null && fam?.layerThetaNoPeEvery !== undefined) {
    const every = fam.layerThetaNoPeEvery;
    thetas = Array.from({ length: n }, (_, i) => ((n - 1 - i) % every === 0 ? 0 : 1));
  }
  if (thetas !== null && thetas.length < n) throw new TypeError(`config.layer_rope_theta must have one entry per layer (${n}), got ${show(thetas)}`);
  return types.map((t, i) => {
    if (!ATTENTION.has(t)) return null;
    if (rope !== null && !rope[i]) return null;
    if (cross !== null && cross.has(i)) return null;
    const forced = mlpTypes !== null && mlpTypes[i] === 'dense';
    if (fam?.ropeOnlySliding === 'always' && t !== 'sliding_attention' && !forced) return null;
    if (fam?.ropeOnlySliding === 'ifAnySliding' && anySliding && t !== 'sliding_attention') return null;
    if (thetas !== null) {
      const theta = optNum(`config.layer_rope_theta[${i}]`, thetas[i]);
      if (!theta) return null;
      return fam?.layerTheta === 'base' ? `${t}@${theta}` : t;
    }
    return t;
  });
}

/** A text config with its sub-config keys dropped, so textConfig() keeps it as it is. */
function flat(c: Obj): Obj {
  const out: Obj = { ...c };
  for (const k of ['text_config', 'thinker_config', 'vlm_config', 'decoder_config', 'decoder', 'generator']) delete out[k];
  // (the per-layer override is applied: an empty one keeps it from being applied again)
  out.per_layer_config = {};
  return out;
}

/** RopeOptions per decoder layer (null: none); layers of one type share the same options object. */
export function ropeLayerOptionsFromConfig(config: object, options: FromConfigOptions = {}): (RopeOptions | null)[] {
  if (!isObj(config)) throw new TypeError(`config must be a parsed config.json object, got ${show(config)}`);
  // the refusals of fromConfig (unknown model_type, uninterpreted keys) come first
  const tc = textConfig(config);
  const fam = familyOf(tc);
  checkInterpretable(tc, fam, options);
  const byType = new Map<string, RopeOptions>();
  return ropeLayerTypesFromConfig(config).map((t, i) => {
    if (t === null) return null;
    const at = t.indexOf('@');
    const type = at < 0 ? t : t.slice(0, at);
    // per-layer head sizes (Gemma 4): the layer's own view of the config
    const layerCfg = withLayerOverride(tc, fam, type, i);
    const key = layerCfg === tc ? t : `${t}#${JSON.stringify(layerCfg.head_dim)}`;
    let o = byType.get(key);
    if (o === undefined) {
      o = ropeOptionsFromConfig(layerCfg === tc ? config : flat(layerCfg), type, options);
      if (at >= 0) o = { ...o, base: Number(t.slice(at + 1)) };
      byType.set(key, o);
    }
    return o;
  });
}

