// fromConfig never guesses: an unknown model_type, a rope_parameters key transformers' rope code does
// not read, or a key the family's code turns into its rotation that rope-simd does not interpret is
// refused by name, with the Rope to build by hand; FromConfigOptions opts in explicitly.
import { describe, expect, it } from 'vitest';
import { Rope } from '../../lib/rope.js';
import { HF_FAMILY_STYLE } from '../../lib/generated/hf-families.js';

const base = { hidden_size: 512, num_attention_heads: 4, num_hidden_layers: 2, max_position_embeddings: 4096, rope_theta: 1e6 };

describe('fromConfig refuses what it would have to guess', () => {
  it('an unknown model_type: named, with new Rope({...}) to build by hand; unknownModel: llama opts in', () => {
    const cfg = { ...base, model_type: 'my_new_model' };
    expect(() => Rope.fromConfig(cfg)).toThrow(
      /config\.model_type 'my_new_model' is not in rope-simd's family table .*Build the Rope by hand: new Rope\(\{ headDim: 128, base: 1000000, style: 'half' \}\)/,
    );
    expect(() => Rope.layersFromConfig(cfg)).toThrow(/config\.model_type 'my_new_model'/);
    const r = Rope.fromConfig(cfg, { unknownModel: 'llama' });
    expect([r.headDim, r.base, r.style]).toEqual([128, 1e6, 'half']);
    expect(Rope.layersFromConfig(cfg, { unknownModel: 'llama' }).length).toBe(2);
    // the legacy interleave key is read only under the explicit Llama reading
    expect(Rope.fromConfig({ ...cfg, rotary_interleaved: true }, { unknownModel: 'llama' }).style).toBe('interleaved');
  });

  it('a config without model_type: refused with the Rope to build by hand; unknownModel: llama reads it as Llama', () => {
    const noType = base;
    const msg = /config has no model_type.*Build the Rope by hand: new Rope\(\{ headDim: 128, base: 1000000, style: 'half' \}\).*\{ unknownModel: 'llama' \}/;
    expect(() => Rope.fromConfig(noType)).toThrow(msg);
    expect(() => Rope.fromConfig({ ...noType, model_type: null } as never)).toThrow(msg);
    expect(() => Rope.layersFromConfig(noType)).toThrow(/config has no model_type/);
    const r = Rope.fromConfig(noType, { unknownModel: 'llama' });
    expect([r.headDim, r.base, r.style]).toEqual([128, 1e6, 'half']);
    expect(Rope.layersFromConfig(noType, { unknownModel: 'llama' }).length).toBe(2);
  });

  it('a rope_parameters key no rope code reads is refused by name; ignoreKeys opts out for that key only', () => {
    const cfg = { ...base, model_type: 'llama', rope_parameters: { rope_type: 'default', rope_theta: 1e6, ntk_alpha: 2 } };
    expect(() => Rope.fromConfig(cfg)).toThrow(/config\.rope_parameters\.ntk_alpha is not a key transformers' rope code reads.*ignoreKeys: \['rope_parameters\.ntk_alpha'\]/);
    expect(Rope.fromConfig(cfg, { ignoreKeys: ['rope_parameters.ntk_alpha'] }).base).toBe(1e6);
    // nested per layer type too
    const nested = { ...base, model_type: 'llama', rope_parameters: { full_attention: { rope_type: 'default', rope_theta: 1e4, foo: 1 } } };
    expect(() => Rope.fromConfig(nested)).toThrow(/config\.rope_parameters\.full_attention\.foo is not a key/);
  });

  it("rope_parameters.alpha is refused where the family's code does not read it, and interpreted where it does (HunYuan)", () => {
    const rp = { rope_type: 'dynamic', rope_theta: 1e4, alpha: 1000, factor: 1 };
    expect(() => Rope.fromConfig({ ...base, model_type: 'llama', rope_parameters: rp })).toThrow(/config\.rope_parameters\.alpha/);
    const r = Rope.fromConfig({ ...base, model_type: 'hunyuan_v1_dense', head_dim: 128, rope_parameters: rp });
    // HunYuanDenseV1RotaryEmbedding: base = rope_theta * alpha ** (d / (d - 2)), no dynamic scaling
    expect(r.base).toBeCloseTo(1e4 * Math.pow(1000, 128 / 126), 6);
    expect(r.scalingType).toBe('default');
  });

  it('families whose code a Rope from a config does not follow are refused by name, for fromConfig and layersFromConfig', () => {
    const cfg = { ...base, head_dim: 128, num_hidden_layers: 2 };
    for (const [t, why] of [
      ['cohere_compass', /reorders the frequencies of the height\/width pairs/],
      ['cohere_compass_text', /reorders the frequencies/],
      ['hunyuan_vl', /XD-RoPE .* the two values of a pair read different rows.*Build the Rope by hand where it applies: new Rope\(\{ headDim: 128, base: 1000000, style: 'half' \}\)/],
      ['hunyuan_vl_text', /XD-RoPE/],
      ['clvp_decoder', /called without rotary embeddings.*Do not rotate its q and k/],
    ] as const) {
      expect(() => Rope.fromConfig({ ...cfg, model_type: t }), t).toThrow(new RegExp(`config\\.model_type '${t}' is not built from a config: .*${why.source}`));
      expect(() => Rope.layersFromConfig({ ...cfg, model_type: t }), t).toThrow(/is not built from a config/);
      expect(() => Rope.fromConfig({ ...cfg, model_type: t }, { unknownModel: 'llama' }), t).toThrow(/is not built from a config/);
    }
    // Zamba2: refused only where its code rotates (use_mem_rope), naming the head size its class computes
    const zamba = { model_type: 'zamba2', hidden_size: 2560, num_attention_heads: 32, num_hidden_layers: 2, layers_block_type: ['mamba', 'hybrid'] };
    expect(() => Rope.fromConfig({ ...zamba, use_mem_rope: true })).toThrow(
      /config\.model_type 'zamba2' is not built from a config: .*Build the Rope by hand for its hybrid layers: new Rope\(\{ headDim: 160, base: 10000, style: 'half' \}\)/,
    );
    expect(() => Rope.layersFromConfig({ ...zamba, use_mem_rope: true })).toThrow(/is not built from a config/);
    expect(() => Rope.fromConfig(zamba)).toThrow(/config\.use_mem_rope is undefined: the 'zamba2' family's code applies RoPE only when it is true/);
    expect(Rope.layersFromConfig(zamba)).toEqual([null, null]);
  });

  it('a key the generated table marks uninterpreted is refused by name with the line that reads it', () => {
    expect(HF_FAMILY_STYLE.step3p7.uninterpreted).toHaveProperty('partial_rotary_factors');
    const cfg = { ...base, model_type: 'step3p7', partial_rotary_factors: [0.5, 1] };
    expect(() => Rope.fromConfig(cfg)).toThrow(
      /config\.partial_rotary_factors \(an array of length 2\) changes the rotation in the 'step3p7' family's code \(models\/step3p7\/configuration_step3p7\.py:\d+\)/,
    );
    expect(() => Rope.fromConfig(cfg, { ignoreKeys: ['partial_rotary_factors'] })).not.toThrow();
  });

  it('switches that turn RoPE off: ESM position_embedding_type, Granite hybrid, Zamba2 use_mem_rope', () => {
    const esm = { ...base, model_type: 'esm', position_embedding_type: 'absolute' };
    expect(() => Rope.fromConfig(esm)).toThrow(/config\.position_embedding_type is 'absolute': the 'esm' family's code applies RoPE only when it is 'rotary'/);
    expect(Rope.layersFromConfig(esm)).toEqual([null, null]);
    expect(Rope.fromConfig({ ...esm, position_embedding_type: 'rotary' }).style).toBe('half');
    expect(Rope.layersFromConfig({ ...base, model_type: 'granitemoehybrid', position_embedding_type: null })).toEqual([null, null]);
  });

  it('DeepSeek-V4 rotates the trailing slice of each head: refused with the by-hand way', () => {
    expect(HF_FAMILY_STYLE.deepseek_v4.ropeTail).toBe(true);
    expect(() => Rope.fromConfig({ ...base, model_type: 'deepseek_v4', head_dim: 512, qk_rope_head_dim: 64 })).toThrow(
      /config\.model_type 'deepseek_v4' rotates the trailing values of each head \(x\[\.\.\., -rope_dim:\]/,
    );
  });

  it('options are checked: unknown keys and values are refused by name', () => {
    expect(() => Rope.fromConfig(base, { unknownModle: 'llama' } as never)).toThrow(/fromConfig does not take the option 'unknownModle'/);
    expect(() => Rope.fromConfig(base, { unknownModel: 'half' } as never)).toThrow(/options\.unknownModel must be 'refuse' or 'llama', got 'half'/);
    expect(() => Rope.fromConfig(base, { ignoreKeys: 'alpha' } as never)).toThrow(/options\.ignoreKeys must be an array of key names/);
  });
});

describe('per-layer head sizes and zero-frequency pairs (Gemma 4)', () => {
  it("new Rope with 'proportional': the pairs past the fraction keep angle 0, exactly", () => {
    const r = new Rope({ headDim: 512, scaling: { type: 'proportional', rotaryFraction: 0.25 } });
    expect(r.invFreq[63]).toBeGreaterThan(0);
    expect(r.invFreq[64]).toBe(0);
    const x = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i + 1));
    const y = x.slice();
    r.apply(y, { heads: 1, positions: 12345 });
    for (let j = 64; j < 256; j++) {
      expect(y[j]).toBe(x[j]);
      expect(y[j + 256]).toBe(x[j + 256]);
    }
    // elsewhere a zero frequency is an underflow and stays refused
    expect(() => new Rope({ headDim: 8, base: 1e308 * 10 })).toThrow(RangeError);
  });

  it('full-attention layers take global_head_dim (default 512), sliding layers head_dim', () => {
    const layers = Rope.layersFromConfig({
      ...base, model_type: 'gemma4_text', num_hidden_layers: 3, head_dim: 256,
      layer_types: ['sliding_attention', 'sliding_attention', 'full_attention'],
      rope_parameters: {
        sliding_attention: { rope_type: 'default', rope_theta: 10000 },
        full_attention: { rope_type: 'proportional', partial_rotary_factor: 0.25, rope_theta: 1e6 },
      },
    });
    expect(layers.map((l) => l?.headDim)).toEqual([256, 256, 512]);
    expect(layers[2]!.invFreq.filter((f) => f > 0).length).toBe(64);
  });
});

describe("a config without a rope block: the config class's own defaults", () => {
  // Values as transformers 5.18's config classes fill them (GlmConfig: partial_rotary_factor 0.5;
  // Gemma4TextConfig: full layers proportional 0.25 at 1e6, sliding default at 1e4).
  it('GLM: half the head rotates unless the config says otherwise', () => {
    const { rope_theta: _t, ...noTheta } = base;
    expect(Rope.fromConfig({ ...noTheta, model_type: 'glm' }).rotaryDim).toBe(64);
    expect(Rope.fromConfig({ ...noTheta, model_type: 'glm', partial_rotary_factor: 1 }).rotaryDim).toBe(128);
  });

  it('Gemma 4: proportional full layers of 512, default sliding layers', () => {
    const { rope_theta: _t, ...noTheta } = base;
    const layers = Rope.layersFromConfig({ ...noTheta, model_type: 'gemma4_text', head_dim: 256, num_hidden_layers: 6 });
    expect(layers.map((l) => l?.headDim)).toEqual([256, 256, 256, 256, 256, 512]);
    expect([layers[5]!.base, layers[5]!.scalingType, layers[0]!.base]).toEqual([1e6, 'proportional', 1e4]);
  });
});

describe('layer lists the family code builds', () => {
  it('layers_block_type (Bamba, Jamba, RecurrentGemma style): attention layers rotate, the others are null', () => {
    const layers = Rope.layersFromConfig({ ...base, model_type: 'bamba', num_hidden_layers: 4, layers_block_type: ['mamba', 'attention', 'mamba', 'attention'] });
    expect(layers.map((l) => (l ? 1 : 0))).toEqual([0, 1, 0, 1]);
  });

  it('the layer count under n_layer / n_layers, or from the block-type list', () => {
    const { num_hidden_layers: _n, ...noCount } = base;
    expect(Rope.layersFromConfig({ ...noCount, model_type: 'gptj', n_layer: 3, rotary_dim: 64 }).length).toBe(3);
    expect(Rope.layersFromConfig({ ...noCount, model_type: 'dbrx', n_layers: 5, d_model: 512, n_heads: 4 }).length).toBe(5);
    expect(Rope.layersFromConfig({ ...noCount, model_type: 'bamba', layers_block_type: ['mamba', 'attention'] }).length).toBe(2);
  });

  it('Mllama cross-attention layers never rotate', () => {
    const layers = Rope.layersFromConfig({ ...base, model_type: 'mllama_text_model', num_hidden_layers: 5, cross_attention_layers: [1, 3] });
    expect(layers.map((l) => (l ? 1 : 0))).toEqual([1, 0, 1, 0, 1]);
  });

  it('ModernBERT published spelling: global/local_rope_theta and global_attn_every_n_layers', () => {
    const { rope_theta: _t, ...noTheta } = base;
    const layers = Rope.layersFromConfig({ ...noTheta, model_type: 'modernbert', num_hidden_layers: 4, global_attn_every_n_layers: 3, global_rope_theta: 160000, local_rope_theta: 10000 });
    expect(layers.map((l) => l?.base)).toEqual([160000, 10000, 10000, 160000]);
  });

  it('Granite SWA layer_rope_theta: a base per layer, 0 = no rotation', () => {
    const layers = Rope.layersFromConfig({ ...base, model_type: 'granite_swa', num_hidden_layers: 3, layer_rope_theta: [1e4, 0, 5e5] });
    expect(layers.map((l) => l?.base ?? null)).toEqual([1e4, null, 5e5]);
  });
});

describe('the generated review of config reads (docs/maintainers/hf-config-reads.md)', () => {
  it("every attribute marked 'interpreted' is read by lib/models/", async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const root = join(__dirname, '..', '..');
    const doc = readFileSync(join(root, 'docs', 'maintainers', 'hf-config-reads.md'), 'utf8');
    const src = ['models/hf-config.ts', 'models/hf-refuse.ts', 'models/hf-layers.ts', 'generated/hf-families.ts'].map((f) => readFileSync(join(root, 'lib', f), 'utf8')).join('\n');
    const names = new Set([...doc.matchAll(/^\| `([^`]+)` \| interpreted \|/gm)].map((m) => m[1]));
    expect(names.size).toBeGreaterThan(30);
    for (const n of names) {
      const key = n === 'get_text_config' ? 'text_config' : n.replace(/^rope_parameters\./, '');
      expect(src.includes(key), n).toBe(true);
    }
  });
});
