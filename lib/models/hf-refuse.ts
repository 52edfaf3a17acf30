// What Rope.fromConfig / layersFromConfig refuse rather than guess (checkInterpretable): a config
// without model_type or with one outside the family table, rope keys no rope code reads, keys a
// family's code turns into its rotation that rope-simd does not interpret, and families whose code
// a Rope from a config does not follow. Each message shows the Rope to build by hand.
import { show } from '../scaling.js';
import type { FromConfigOptions } from './config-types.js';
import { NESTED_KEYS, ropeOptionsFromConfig, ropeSwitchedOff } from './hf-config.js';
import { HF_FAMILY_STYLE, TRANSFORMERS_VERSION, type HfFamily } from '../generated/hf-families.js';
import { isObj, optNum, type Obj } from './read.js';

/** The keys of rope_parameters / rope_scaling that transformers' rope code reads (RopeParameters,
 * the legacy 'type', M-RoPE and Phi-3.5-MoE keys) plus the per-layer-type nesting keys. Any other
 * key is a family's own and is refused unless the family table says rope-simd interprets it. */
const RP_KEYS = new Set([
  'rope_type', 'type', 'rope_theta', 'partial_rotary_factor', 'factor', 'original_max_position_embeddings',
  'attention_factor', 'beta_fast', 'beta_slow', 'short_factor', 'long_factor', 'low_freq_factor', 'high_freq_factor',
  'mscale', 'mscale_all_dim', 'truncate', 'mrope_section', 'mrope_interleaved', 'short_mscale', 'long_mscale',
  // Ministral 3 / Mistral 4: a position-dependent factor on the query after the rotation (attention
  // temperature, not a rotation): not rope-simd's to apply, and it does not change cos/sin.
  'llama_4_scaling_beta',
  // Ministral 3 / Mistral 4 keep a copy of max_position_embeddings there (their config classes list it in
  // ignore_keys_at_rope_validation); no rope code reads it
  'max_position_embeddings',
]);

/** (byHand's reading: every key ignored; not reachable from a caller's options) */
const EVERY_KEY: readonly string[] = Object.freeze([]);

/** Model types whose code (transformers 5.18) does what a Rope from a config does not: found by
 * running it (scripts/gen/gen-model-vectors.py), not by the generated table, which reads one modeling
 * file per family. */
const NOT_BUILT: Record<string, string> = {
  cohere_compass:
    'its rotary class reorders the frequencies of the height/width pairs (even ones first, then odd ones: ' +
    'compute_default_rope_parameters in models/cohere_compass/modeling_cohere_compass.py), so pair j does not ' +
    'rotate at base^(-2j/d), not even for text',
  hunyuan_vl:
    "its XD-RoPE splits the doubled cos/sin into mrope_section * 2 blocks, one position row each " +
    '(recomposition_frequencies in models/hunyuan_vl/modeling_hunyuan_vl.py), so the two values of a pair read ' +
    'different rows (and without mrope_section its rotary class does not run); for text tokens, where every row ' +
    'holds the same position, the rotation is plain rotate_half RoPE',
  clvp_decoder:
    'its decoder attention is called without rotary embeddings (only ClvpEncoder builds ClvpRotaryPositionalEmbedding ' +
    'in models/clvp/modeling_clvp.py), so there is no rotation to build',
};
// (only with use_mem_rope: without it Zamba2 applies no RoPE, which fromConfig says as for any family)
NOT_BUILT.zamba2 =
  'with use_mem_rope its shared attention blocks rotate heads of attention_head_dim = 2 * hidden_size / ' +
  "num_attention_heads (the config class recomputes it), in the layers whose layers_block_type is 'hybrid' " +
  '(models/zamba2/configuration_zamba2.py), which fromConfig does not map';
NOT_BUILT.cohere_compass_text = NOT_BUILT.cohere_compass;
NOT_BUILT.hunyuan_vl_text = NOT_BUILT.hunyuan_vl;

/** A Rope built by hand: the options rope-simd's Llama reading gives, as code to copy and check. */
function byHand(c: Obj): string {
  let shown = "new Rope({ headDim, rotaryDim, base, style: 'half' | 'interleaved', scaling })";
  try {
    const o = ropeOptionsFromConfig({ ...c, model_type: undefined }, 'full_attention', { ignoreKeys: EVERY_KEY, unknownModel: 'llama' });
    const parts = [`headDim: ${o.headDim}`];
    if (o.rotaryDim !== o.headDim) parts.push(`rotaryDim: ${o.rotaryDim}`);
    parts.push(`base: ${o.base}`, `style: '${o.style}'`);
    if (o.scaling) parts.push(`scaling: { type: '${o.scaling.type}', ... }`);
    shown = `new Rope({ ${parts.join(', ')} })`;
  } catch {
    // the config is not readable even as Llama's: the generic form above
  }
  return shown;
}

function zamba2ByHand(c: Obj): string {
  const h = optNum('config.hidden_size', c.hidden_size);
  const n = optNum('config.num_attention_heads', c.num_attention_heads);
  const rp = isObj(c.rope_parameters) ? c.rope_parameters : {};
  const theta = typeof rp.rope_theta === 'number' ? rp.rope_theta : typeof c.rope_theta === 'number' ? c.rope_theta : 10000;
  const head = h !== undefined && n ? String((2 * h) / n) : '2 * hidden_size / num_attention_heads';
  return `new Rope({ headDim: ${head}, base: ${theta}, style: 'half' })`;
}

function refused(c: Obj, what: string, check: string): TypeError {
  return new TypeError(
    `${what}, so rope-simd cannot tell how it rotates. Build the Rope by hand: ${byHand(c)} (what a Llama ` +
      `config with these values would give), after checking ${check}`,
  );
}

/** Refuses what rope-simd would otherwise have to guess: a model_type outside the family table, and
 * keys the family's code turns into the rotation that rope-simd does not interpret. */
export function checkInterpretable(c: Obj, fam: HfFamily | undefined, options: FromConfigOptions): void {
  if (!isObj(options)) throw new TypeError(`fromConfig options must be an object ({ unknownModel, ignoreKeys }), got ${show(options)}`);
  for (const k of Object.keys(options)) {
    if (k !== 'unknownModel' && k !== 'ignoreKeys') throw new TypeError(`fromConfig does not take the option '${k}' (it takes unknownModel, ignoreKeys)`);
  }
  const unknown = options.unknownModel ?? 'refuse';
  if (unknown !== 'refuse' && unknown !== 'llama') throw new TypeError(`options.unknownModel must be 'refuse' or 'llama', got ${show(unknown)}`);
  const ignore = options.ignoreKeys ?? [];
  if (!Array.isArray(ignore) || ignore.some((k) => typeof k !== 'string')) {
    throw new TypeError(`options.ignoreKeys must be an array of key names (e.g. ['rope_parameters.alpha']), got ${show(ignore)}`);
  }
  const ignored = (key: string): boolean => ignore === EVERY_KEY || ignore.includes(key);
  const t = c.model_type;
  if (t !== undefined && t !== null && typeof t !== 'string') throw new TypeError(`config.model_type must be a string, got ${show(t)}`);
  if ((t === undefined || t === null) && unknown !== 'llama') {
    // (transformers' AutoConfig refuses such a config.json too, unless the checkpoint's name holds a model type)
    throw refused(
      c,
      'config has no model_type, so nothing says which family\'s code it is for',
      "the model's modeling code (its apply_rotary_pos_emb and rotary embedding class); or pass { unknownModel: 'llama' } " +
        "to fromConfig / layersFromConfig to read it with Llama's rules",
    );
  }
  if (typeof t === 'string' && fam === undefined && unknown !== 'llama') {
    throw refused(
      c,
      `config.model_type '${t}' is not in rope-simd's family table (the ${Object.keys(HF_FAMILY_STYLE).length} model types ` +
        `whose transformers ${TRANSFORMERS_VERSION} code has a rotary embedding)`,
      "the family's apply_rotary_pos_emb (rotate_half: style 'half'; rotate_every_two or repeat_interleave(2): " +
        "'interleaved') and its rotary embedding class; or pass { unknownModel: 'llama' } to fromConfig to read it as Llama",
    );
  }
  const notBuilt = typeof t === 'string' && (t !== 'zamba2' || ropeSwitchedOff(c, fam) === null) ? NOT_BUILT[t] : undefined;
  if (notBuilt !== undefined) {
    throw new TypeError(
      `config.model_type '${t}' is not built from a config: ${notBuilt}. ` +
        (t === 'clvp_decoder'
          ? 'Do not rotate its q and k'
          : t === 'zamba2'
            ? `Build the Rope by hand for its hybrid layers: ${zamba2ByHand(c)}`
            : `Build the Rope by hand where it applies: ${byHand(c)}`),
    );
  }
  if (fam?.ropeTail) {
    // DeepSeek-V4: [nope | rope] heads, and two rotations keyed by rope kind, not by layer type:
    // rope_parameters.main in its sliding layers, .compress in its compressed (CSA/HCA) layers
    const head = optNum('config.head_dim', c.head_dim);
    const rot = optNum('config.qk_rope_head_dim', c.qk_rope_head_dim);
    const rp = isObj(c.rope_parameters) ? c.rope_parameters : {};
    const theta = (k: string): string => {
      const v = isObj(rp[k]) ? (rp[k] as Obj).rope_theta : undefined;
      return typeof v === 'number' ? String(v) : `rope_parameters.${k}.rope_theta`;
    };
    const hand = (k: string): string =>
      `new Rope({ headDim: ${head ?? 'head_dim'}, rotaryDim: ${rot ?? 'qk_rope_head_dim'}, base: ${theta(k)}, style: 'interleaved', rotarySlice: 'trailing' })`;
    throw new TypeError(
      `config.model_type '${String(t)}' rotates the trailing values of each head (x[..., -rope_dim:]: ${fam.from.split(':')[0]}) ` +
        "with one rotation per rope kind (rope_parameters.main in its sliding layers, rope_parameters.compress in its " +
        'compressed layers), which fromConfig does not map to layers. Build the Ropes by hand: ' +
        `${hand('main')} for the sliding layers and ${hand('compress')} (with rope_parameters.compress's scaling, if any) ` +
        'for the compressed ones',
    );
  }
  // keys inside rope_parameters / rope_scaling (flat, or nested per layer type)
  const blocks: [string, Obj][] = [];
  for (const where of ['rope_scaling', 'rope_parameters']) {
    const rs = c[where];
    if (!isObj(rs)) continue;
    const nested = NESTED_KEYS.some((k) => isObj(rs[k]));
    if (nested) {
      for (const [k, v] of Object.entries(rs)) if (isObj(v)) blocks.push([`${where}.${k}`, v]);
    } else blocks.push([where, rs]);
  }
  for (const [where, rs] of blocks) {
    for (const key of Object.keys(rs)) {
      if (RP_KEYS.has(key) || (NESTED_KEYS.includes(key) && isObj(rs[key])) || rs[key] === undefined || rs[key] === null) continue;
      if (key === 'alpha' && fam?.alphaBase) continue;
      const name = `${where.replace(/^rope_scaling/, 'rope_parameters').split('.')[0]}.${key}`;
      if (ignored(name)) continue;
      throw refused(
        c,
        `config.${where}.${key} is not a key transformers' rope code reads, and the ${show(t ?? 'Llama')} family's code ` +
          `is not known to interpret it`,
        `what the family's rotary embedding class does with '${key}'; or pass { ignoreKeys: ['${name}'] } if it does not change the rotation`,
      );
    }
  }
  if (fam?.negated) {
    throw new TypeError(
      `config.model_type '${String(t)}' rotates by minus the angle (its rotate_half returns cat((x2, -x1)): ${fam.from.split(':')[0]}), ` +
        `which a Rope built from a config does not do. Build the Rope by hand and pass inverse: true on every call: ` +
        `${byHand(c)}, then rope.apply(x, { heads, positions, inverse: true })`,
    );
  }
  // keys the family's own code turns into the rotation that rope-simd does not interpret (generated
  // table); with RoPE switched off (Zamba2 without use_mem_rope) there is no rotation for them to change
  const uninterpreted = ropeSwitchedOff(c, fam) === null ? fam?.uninterpreted : undefined;
  for (const [key, from] of Object.entries(uninterpreted ?? {})) {
    const v = c[key];
    // (an empty per-layer override object or list overrides nothing)
    const empty = (Array.isArray(v) && v.length === 0) || (isObj(v) && Object.keys(v).length === 0);
    if (v === undefined || v === null || empty || ignored(key)) continue;
    throw refused(
      c,
      `config.${key} (${show(v)}) changes the rotation in the ${show(t)} family's code (${from}), and rope-simd does not interpret it`,
      `that code; or pass { ignoreKeys: ['${key}'] } if this value does not change the rotation`,
    );
  }
}
