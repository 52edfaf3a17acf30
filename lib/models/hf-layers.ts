// Per-layer RoPE from a Hugging Face config.json, as transformers 5 builds each decoder layer:
// the layer's type (config.layer_types, else the config class's default pattern), NoPE layers
// (no_rope_layers), families that rotate only in sliding-window layers, and layers without
// attention (linear attention, Mamba, convolution) -> null.
import type { RopeOptions } from '../types.js';
import { show } from '../scaling.js';
import { familyOf, ropeOptionsFromConfig, textConfig } from './hf-config.js';
import { isObj, optNum, type Obj } from './read.js';

const ATTENTION = new Set([
  'full_attention', 'sliding_attention', 'chunked_attention', 'indexed_attention', 'attention', 'global_attention', 'local_attention', 'hybrid',
]);
const NO_ATTENTION = new Set(['linear_attention', 'mamba', 'mamba2', 'conv', 'short_conv', 'ssm', 'recurrent', 'rwkv', 'deltanet', 'gated_deltanet']);

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
  // Bamba-style hybrids: attention only at attn_layer_indices (none listed: all Mamba)
  if (Object.prototype.hasOwnProperty.call(c, 'attn_layer_indices')) {
    const idx = c.attn_layer_indices;
    if (idx !== null && !Array.isArray(idx)) throw new TypeError(`config.attn_layer_indices must be an array of layer indices or null, got ${show(idx)}`);
    const set = new Set((idx ?? []) as unknown[]);
    return Array.from({ length: n }, (_, i) => (set.has(i) ? 'attention' : 'mamba'));
  }
  const model = typeof c.model_type === 'string' ? c.model_type : '';
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
export function ropeLayerTypesFromConfig(config: object): (string | null)[] {
  const c = textConfig(config);
  const n = optNum('config.num_hidden_layers', c.num_hidden_layers);
  if (n === undefined || !Number.isInteger(n) || n < 1) {
    throw new TypeError(`config.num_hidden_layers must be a positive integer (the decoder layer count), got ${show(c.num_hidden_layers)}`);
  }
  const fam = familyOf(c);
  if (fam?.noRope) return Array.from({ length: n }, () => null);
  const types = layerTypes(c, n);
  const rope = fam?.noRopeLayers ? ropeFlags(c, n) : null;
  const anySliding = types.includes('sliding_attention');
  return types.map((t, i) => {
    if (!ATTENTION.has(t)) return null;
    if (rope !== null && !rope[i]) return null;
    if (fam?.ropeOnlySliding === 'always' && t !== 'sliding_attention') return null;
    if (fam?.ropeOnlySliding === 'ifAnySliding' && anySliding && t !== 'sliding_attention') return null;
    return t;
  });
}

/** RopeOptions per decoder layer (null: none); layers of one type share the same options object. */
export function ropeLayerOptionsFromConfig(config: object): (RopeOptions | null)[] {
  if (!isObj(config)) throw new TypeError(`config must be a parsed config.json object, got ${show(config)}`);
  const byType = new Map<string, RopeOptions>();
  return ropeLayerTypesFromConfig(config).map((t) => {
    if (t === null) return null;
    let o = byType.get(t);
    if (o === undefined) byType.set(t, (o = ropeOptionsFromConfig(config, t)));
    return o;
  });
}
