// Rope.layersFromConfig on hand-written configs: the rules of transformers 5's config classes
// (layer_types patterns, no_rope_layers, rope only in sliding layers) and the errors for bad
// configs. The per-family truth from transformers' own modules is in hf-families.test.ts.
import { describe, expect, it } from 'vitest';
import { Rope } from '../../lib/rope.js';
import { ropeOptionsFromConfig } from '../../lib/models/hf-config.js';

const base = { hidden_size: 64, num_attention_heads: 4, max_position_embeddings: 4096 };

describe('Rope.layersFromConfig', () => {
  it('plain model: one shared Rope for every layer, equal to fromConfig', () => {
    const layers = Rope.layersFromConfig({ ...base, model_type: 'llama', num_hidden_layers: 5, rope_theta: 5e5 });
    expect(layers.length).toBe(5);
    for (const l of layers) expect(l).toBe(layers[0]);
    expect(Array.from(layers[0]!.invFreq)).toEqual(Array.from(Rope.fromConfig({ ...base, model_type: 'llama', rope_theta: 5e5 }).invFreq));
  });

  it("Gemma 3 published form: sliding layers use rope_local_base_freq and no scaling", () => {
    const cfg = {
      ...base, model_type: 'gemma3_text', head_dim: 16, num_hidden_layers: 12, rope_theta: 1e6, rope_local_base_freq: 1e4,
      rope_scaling: { rope_type: 'linear', factor: 8 },
    };
    const layers = Rope.layersFromConfig(cfg);
    // default sliding_window_pattern 6: layers 5 and 11 are full attention
    const full = layers[5]!;
    const sliding = layers[0]!;
    expect(layers.map((l) => (l === full ? 'F' : l === sliding ? 'S' : '?')).join('')).toBe('SSSSSFSSSSSF');
    expect(full.invFreq[1]).toBeCloseTo(Math.pow(1e6, -2 / 16) / 8, 15);
    expect(sliding.invFreq[1]).toBeCloseTo(Math.pow(1e4, -2 / 16), 15);
  });

  it('Gemma 3 without rope_theta: the config class default thetas (global 1e6, local 1e4)', () => {
    const layers = Rope.layersFromConfig({ ...base, model_type: 'gemma3_text', head_dim: 16, num_hidden_layers: 6 });
    expect(layers[5]!.invFreq[1]).toBeCloseTo(Math.pow(1e6, -2 / 16), 15);
    expect(layers[0]!.invFreq[1]).toBeCloseTo(Math.pow(1e4, -2 / 16), 15);
  });

  it('transformers-5 nested rope_parameters, per layer type', () => {
    const cfg = {
      ...base, model_type: 'gemma3_text', head_dim: 16, num_hidden_layers: 2, layer_types: ['sliding_attention', 'full_attention'],
      rope_parameters: {
        full_attention: { rope_type: 'linear', factor: 4, rope_theta: 1e6 },
        sliding_attention: { rope_type: 'default', rope_theta: 1e4 },
      },
    };
    const [s, f] = Rope.layersFromConfig(cfg);
    expect(f!.invFreq[1]).toBeCloseTo(Math.pow(1e6, -2 / 16) / 4, 15);
    expect(s!.invFreq[1]).toBeCloseTo(Math.pow(1e4, -2 / 16), 15);
    expect(ropeOptionsFromConfig(cfg).base).toBe(1e6); // fromConfig: the full-attention layers
  });

  it('Llama 4: no_rope_layers (or every 4th layer) NoPE; SmolLM3 the same', () => {
    const l4 = Rope.layersFromConfig({ ...base, model_type: 'llama4_text', num_hidden_layers: 8, no_rope_layers: [] });
    expect(l4.map((l) => (l ? 1 : 0))).toEqual([1, 1, 1, 0, 1, 1, 1, 0]);
    expect(l4[0]!.style).toBe('interleaved');
    const s3 = Rope.layersFromConfig({ ...base, model_type: 'smollm3', num_hidden_layers: 4, no_rope_layers: [1, 0, 1, 1] });
    expect(s3.map((l) => (l ? 1 : 0))).toEqual([1, 0, 1, 1]);
  });

  it('Cohere2 rotates in sliding layers only; EXAONE 4 too, with its LLLG string pattern', () => {
    const c2 = Rope.layersFromConfig({ ...base, model_type: 'cohere2', num_hidden_layers: 8, sliding_window: 4096 });
    expect(c2.map((l) => (l ? 1 : 0))).toEqual([1, 1, 1, 0, 1, 1, 1, 0]);
    const ex = Rope.layersFromConfig({ ...base, model_type: 'exaone4', num_hidden_layers: 4, sliding_window: 4096, sliding_window_pattern: 'LLLG' });
    expect(ex.map((l) => (l ? 1 : 0))).toEqual([1, 1, 1, 0]);
    const exFull = Rope.layersFromConfig({ ...base, model_type: 'exaone4', num_hidden_layers: 3, sliding_window: null });
    expect(exFull.map((l) => (l ? 1 : 0))).toEqual([1, 1, 1]);
  });

  it('hybrid models: layers without attention are null (Qwen3-Next interval, explicit layer_types)', () => {
    const q = Rope.layersFromConfig({ ...base, model_type: 'qwen3_next', num_hidden_layers: 8, head_dim: 16, partial_rotary_factor: 0.25 });
    expect(q.map((l) => (l ? 1 : 0))).toEqual([0, 0, 0, 1, 0, 0, 0, 1]);
    expect(q[3]!.rotaryDim).toBe(4);
    const h = Rope.layersFromConfig({ ...base, model_type: 'lfm2', num_hidden_layers: 3, layer_types: ['conv', 'full_attention', 'conv'] });
    expect(h.map((l) => (l ? 1 : 0))).toEqual([0, 1, 0]);
  });

  it('families whose attention applies no RoPE (Jamba, Nemotron-H): fromConfig refuses, every layer null', () => {
    expect(() => Rope.fromConfig({ ...base, model_type: 'jamba' })).toThrow(/config\.model_type 'jamba' applies no RoPE in transformers/);
    expect(Rope.layersFromConfig({ ...base, model_type: 'nemotron_h', num_hidden_layers: 3 })).toEqual([null, null, null]);
  });

  it('bad configs: the message names the key, what was expected and what came', () => {
    expect(() => Rope.layersFromConfig({ ...base, model_type: 'llama' })).toThrow(
      /config\.num_hidden_layers must be a positive integer \(the decoder layer count; also read as n_layer, n_layers, num_layers or the length of layer_types\), got undefined/,
    );
    expect(() => Rope.layersFromConfig({ ...base, model_type: 'llama', num_hidden_layers: 2, layer_types: ['full_attention', 'banana'] })).toThrow(
      /config\.layer_types\[1\] must be one of 'full_attention', .*, got 'banana'/,
    );
    expect(() => Rope.layersFromConfig({ ...base, model_type: 'llama', num_hidden_layers: 3, layer_types: ['full_attention'] })).toThrow(
      /config\.layer_types must be an array of 3 layer type names \(num_hidden_layers\), got an array of length 1/,
    );
    expect(() => Rope.layersFromConfig({ ...base, model_type: 'llama4_text', num_hidden_layers: 2, no_rope_layers: [1, 'x'] })).toThrow(
      /config\.no_rope_layers\[1\] must be 0 or 1, got 'x'/,
    );
    expect(() => Rope.layersFromConfig({ ...base, model_type: 'cohere2', num_hidden_layers: 2, sliding_window_pattern: 0 })).toThrow(
      /config\.sliding_window_pattern must be a positive integer, got 0/,
    );
    expect(() => Rope.fromConfig({ ...base, model_type: 'llama', rope_parameters: { full_attention: 5, sliding_attention: { rope_theta: 1 } } })).toThrow(
      /config\.rope_parameters is nested per layer type and needs a 'full_attention' object, got 5 for 'full_attention'/,
    );
    expect(() => Rope.fromConfig({ ...base, model_type: 'llama', rope_parameters: 'x' as never })).toThrow(/config\.rope_parameters must be an object or null, got 'x'/);
    expect(() => Rope.layersFromConfig(null as never)).toThrow(/config must be a parsed config\.json object, got null/);
  });
});
