// The shapes of the model metadata fromConfig/fromGGUF read, for completion and documentation.
// Both stay open to unknown keys: real configs carry hundreds, and every value is re-checked at run
// time (a key of the wrong type is refused with its name, what was expected and what came).

/** rope_scaling (transformers < 5) or rope_parameters (transformers 5) of a config.json. */
export interface HFRopeParameters {
  /** 'default' | 'linear' | 'dynamic' | 'yarn' | 'longrope' | 'llama3' | ... ('type' in old configs). */
  rope_type?: string;
  type?: string;
  rope_theta?: number;
  factor?: number;
  original_max_position_embeddings?: number;
  low_freq_factor?: number;
  high_freq_factor?: number;
  beta_fast?: number;
  beta_slow?: number;
  mscale?: number;
  mscale_all_dim?: number;
  attention_factor?: number;
  short_factor?: number[];
  long_factor?: number[];
  short_mscale?: number;
  long_mscale?: number;
  partial_rotary_factor?: number;
  mrope_section?: number[];
  mrope_interleaved?: boolean;
  truncate?: boolean;
  [key: string]: unknown;
}

/** A parsed Hugging Face config.json (the keys transformers reads for RoPE; any others allowed). */
export interface HFConfig {
  model_type?: string;
  architectures?: string[];
  hidden_size?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number;
  num_hidden_layers?: number;
  head_dim?: number;
  max_position_embeddings?: number;
  rope_theta?: number;
  partial_rotary_factor?: number;
  rotary_pct?: number;
  rotary_dim?: number;
  rope_scaling?: HFRopeParameters | null;
  /** transformers 5: flat, or nested per layer type ({ full_attention: {...}, sliding_attention: {...} }). */
  rope_parameters?: HFRopeParameters | Record<string, HFRopeParameters>;
  layer_types?: string[];
  sliding_window?: number | null;
  rope_local_base_freq?: number;
  qk_rope_head_dim?: number;
  /** Vision-language models keep the language model's settings here. */
  text_config?: HFConfig;
  [key: string]: unknown;
}

/** GGUF metadata as key/value pairs ('general.architecture', '{arch}.rope.freq_base', ...), as
 * @huggingface/gguf or node-llama-cpp return them (flat dotted keys or nested objects). */
export interface GGUFMetadata {
  'general.architecture'?: string;
  [key: string]: unknown;
}

/** The second argument of Rope.fromConfig / Rope.layersFromConfig: explicit opt-ins where rope-simd
 * would otherwise refuse a config rather than guess its rotation. */
export interface FromConfigOptions {
  /** A model_type that is not in rope-simd's family table (generated from transformers' modeling
   * code) is refused by default: nothing says which pairs that family rotates or what else its code
   * does. 'llama' reads it as transformers reads a Llama config (rotate_half pairs, rope_theta,
   * rope_parameters / rope_scaling, head_dim or hidden_size / num_attention_heads,
   * partial_rotary_factor) and lets the legacy keys rotary_interleaved / rope_interleaved pick
   * adjacent pairs; check the result against the family's apply_rotary_pos_emb. A config without
   * model_type is refused the same way unless this is 'llama'. */
  unknownModel?: 'refuse' | 'llama';
  /** Keys rope-simd refused because the family's code turns them into the rotation and rope-simd
   * does not interpret them (as the message names them, e.g. 'rope_parameters.alpha'), which you have
   * checked do not change this model's rotation: they are then ignored. */
  ignoreKeys?: readonly string[];
}
