// Rope.fromConfig on published model configs and Rope.fromGGUF on the GGUF metadata llama.cpp's
// converter writes for the same models. Expectations are written out per model (from the model
// cards / configs and transformers' formulas), not derived by lib/models/.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Rope } from '../../lib/index.js';
import { ropeOptionsFromConfig } from '../../lib/models/hf-config.js';
import { ropeOptionsFromGGUF } from '../../lib/models/gguf.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'configs');
const load = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8'));

interface Expect {
  headDim: number;
  rotaryDim: number;
  style: 'half' | 'interleaved';
  base: number;
  attentionScaling: number;
  /** invFreq_j in float64, written from transformers' formula for this model's rope_type. */
  invFreq: (j: number, r: number, base: number) => number;
}

const plain = (j: number, r: number, base: number) => Math.pow(base, (-2 * j) / r);
const phi3 = load('phi-3-mini-128k-instruct');
const phiShort = (phi3.rope_scaling as { short_factor: number[] }).short_factor;

// YaRN for DeepSeek (dim 64, base 1e4, original 4096, betas 32/1): correction range [10, 23].
function deepseekYarn(j: number, r: number, base: number): number {
  const ramp = Math.min(Math.max((j - 10) / (23 - 10), 0), 1);
  return plain(j, r, base) * (1 - ramp) + (plain(j, r, base) / 40) * ramp;
}

function llama31(j: number, r: number, base: number): number {
  const inv = plain(j, r, base);
  const wavelen = (2 * Math.PI) / inv;
  if (wavelen < 8192 / 4) return inv;
  if (wavelen > 8192 / 1) return inv / 8;
  const smooth = (8192 / wavelen - 1) / (4 - 1);
  return (1 - smooth) * (inv / 8) + smooth * inv;
}

const MODELS: Record<string, Expect> = {
  'llama-2-7b': { headDim: 128, rotaryDim: 128, style: 'half', base: 10000, attentionScaling: 1, invFreq: plain },
  'llama-3.1-8b': { headDim: 128, rotaryDim: 128, style: 'half', base: 500000, attentionScaling: 1, invFreq: llama31 },
  'mistral-7b-v0.1': { headDim: 128, rotaryDim: 128, style: 'half', base: 10000, attentionScaling: 1, invFreq: plain },
  'qwen2.5-7b': { headDim: 128, rotaryDim: 128, style: 'half', base: 1e6, attentionScaling: 1, invFreq: plain },
  'qwen2-vl-7b-instruct': { headDim: 128, rotaryDim: 128, style: 'half', base: 1e6, attentionScaling: 1, invFreq: plain },
  'phi-3-mini-128k-instruct': {
    headDim: 96,
    rotaryDim: 96,
    style: 'half',
    base: 10000,
    attentionScaling: Math.sqrt(1 + Math.log(131072 / 4096) / Math.log(4096)),
    invFreq: (j, r, base) => plain(j, r, base) / phiShort[j],
  },
  'deepseek-v2': { headDim: 64, rotaryDim: 64, style: 'interleaved', base: 10000, attentionScaling: 1, invFreq: deepseekYarn },
  'deepseek-v3': { headDim: 64, rotaryDim: 64, style: 'interleaved', base: 10000, attentionScaling: 1, invFreq: deepseekYarn },
  'gpt-neox-20b': { headDim: 96, rotaryDim: 24, style: 'half', base: 10000, attentionScaling: 1, invFreq: plain },
  'pythia-160m': { headDim: 64, rotaryDim: 16, style: 'half', base: 10000, attentionScaling: 1, invFreq: plain },
  'gpt-j-6b': { headDim: 256, rotaryDim: 64, style: 'interleaved', base: 10000, attentionScaling: 1, invFreq: plain },
};

/** Plain float64 rotation of one head at one position, the reference for apply(). */
function rotateRef(x: Float64Array, e: Expect, inv: number[], pos: number): Float64Array {
  const out = Float64Array.from(x);
  const half = e.rotaryDim / 2;
  for (let j = 0; j < half; j++) {
    const [a, b] = e.style === 'half' ? [j, j + half] : [2 * j, 2 * j + 1];
    const c = Math.cos(pos * inv[j]) * e.attentionScaling;
    const s = Math.sin(pos * inv[j]) * e.attentionScaling;
    out[a] = x[a] * c - x[b] * s;
    out[b] = x[b] * c + x[a] * s;
  }
  return out;
}

function checkRope(name: string, rope: Rope, e: Expect, rows = name.startsWith('qwen2-vl') ? 3 : 1): void {
  expect(rope.headDim).toBe(e.headDim);
  expect(rope.rotaryDim).toBe(e.rotaryDim);
  expect(rope.style).toBe(e.style);
  expect(rope.attentionScaling).toBeCloseTo(e.attentionScaling, 7);
  const inv = rope.invFreq;
  expect(inv.length).toBe(e.rotaryDim / 2);
  const want = Array.from({ length: e.rotaryDim / 2 }, (_, j) => e.invFreq(j, e.rotaryDim, e.base));
  expect(inv[0]).toBe(want[0]);
  for (let j = 0; j < inv.length; j++) expect(Math.abs(inv[j] - want[j])).toBeLessThanOrEqual(1e-14 * want[j]);
  // It rotates: one head at position 1234 against the plain float64 rotation (f32 storage).
  const x = Float32Array.from({ length: e.headDim }, (_, i) => Math.sin(i * 0.37 + 0.1));
  const ref = rotateRef(Float64Array.from(x), e, want, 1234);
  // M-RoPE: a text token carries the same position in every row
  rope.apply(x, { heads: 1, positions: Array(rows).fill(1234) });
  let err = 0;
  for (let i = 0; i < e.headDim; i++) err = Math.max(err, Math.abs(x[i] - ref[i]));
  expect(err).toBeLessThanOrEqual(2e-6 * e.attentionScaling);
}

describe('Rope.fromConfig on published model configs', () => {
  for (const [name, e] of Object.entries(MODELS)) {
    it(name, () => {
      const config = load(name);
      expect(typeof config._source).toBe('string');
      checkRope(name, Rope.fromConfig(config), e);
    });
  }

  it('maps each rope_scaling to the scaling type transformers would run', () => {
    expect(ropeOptionsFromConfig(load('llama-2-7b')).scaling).toBeUndefined();
    expect(ropeOptionsFromConfig(load('llama-3.1-8b')).scaling).toEqual({
      type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192,
    });
    const vl = ropeOptionsFromConfig(load('qwen2-vl-7b-instruct'));
    expect(vl.mropeSection).toEqual([16, 24, 24]);
    expect(vl.scaling).toBeUndefined();
    const phi = ropeOptionsFromConfig(phi3);
    expect(phi.scaling).toMatchObject({ type: 'longrope', originalMaxPositions: 4096, maxPositions: 131072 });
    expect(ropeOptionsFromConfig(load('deepseek-v2')).scaling).toEqual({
      type: 'yarn', factor: 40, originalMaxPositions: 4096, betaFast: 32, betaSlow: 1, mscale: 0.707, mscaleAllDim: 0.707,
    });
  });

  it('Phi-3 switches to long factors past 4096 tokens', () => {
    const rope = Rope.fromConfig(phi3);
    const longF = (phi3.rope_scaling as { long_factor: number[] }).long_factor;
    const x = Float32Array.from({ length: 96 }, (_, i) => Math.cos(i));
    const ref = rotateRef(Float64Array.from(x), MODELS['phi-3-mini-128k-instruct'],
      Array.from({ length: 48 }, (_, j) => plain(j, 96, 10000) / longF[j]), 5000);
    rope.apply(x, { heads: 1, positions: [5000] }); // seq_len 5001 > 4096
    for (let i = 0; i < 96; i++) expect(Math.abs(x[i] - ref[i])).toBeLessThanOrEqual(3e-6);
  });

  it('v5 rope_parameters, text_config, and config errors', () => {
    const v5 = { model_type: 'llama', hidden_size: 4096, num_attention_heads: 32, max_position_embeddings: 131072,
      rope_parameters: { rope_type: 'yarn', rope_theta: 1e6, factor: 4, original_max_position_embeddings: 32768 } };
    expect(ropeOptionsFromConfig(v5)).toMatchObject({ headDim: 128, base: 1e6, scaling: { type: 'yarn', factor: 4, originalMaxPositions: 32768 } });
    const nested = { model_type: 'qwen3_vl', text_config: { head_dim: 128, rope_theta: 5e6,
      rope_scaling: { rope_type: 'default', mrope_section: [24, 20, 20], mrope_interleaved: true } } };
    expect(ropeOptionsFromConfig(nested)).toMatchObject({ headDim: 128, base: 5e6, mropeSection: [24, 20, 20], mropeInterleaved: true });
    expect(() => ropeOptionsFromConfig({ model_type: 'llama', head_dim: 64, rope_scaling: { type: 'ntk', factor: 2 } })).toThrow(/rope_type must be one of .*got 'ntk'/);
    expect(() => ropeOptionsFromConfig({ model_type: 'llama', rope_theta: 1e4 })).toThrow(/needs head_dim, or hidden_size and num_attention_heads/);
    expect(() => ropeOptionsFromConfig({ model_type: 'llama', head_dim: 64, rope_scaling: { rope_type: 'linear' } })).toThrow(/config\.rope_scaling\.factor is required for rope_type 'linear'/);
    expect(() => ropeOptionsFromConfig({ model_type: 'llama', head_dim: 64, rope_theta: '1e4' })).toThrow(TypeError);
    expect(() => Rope.fromConfig({ model_type: 'llama', head_dim: 64, rope_scaling: { rope_type: 'linear', factor: -2 } })).toThrow(/scaling\.factor must be > 0, got -2/);
  });
});

// What convert_hf_to_gguf.py writes for each model (only the keys RoPE needs).
const llama3Freqs = Array.from({ length: 64 }, (_, j) => {
  // convert_hf_to_gguf LlamaModel.generate_extra_tensors, stored as float32
  const freq = plain(j, 128, 500000);
  const wavelen = (2 * Math.PI) / freq;
  if (wavelen < 8192 / 4) return 1;
  if (wavelen > 8192) return 8;
  const smooth = (8192 / wavelen - 1) / 3;
  return Math.fround(1 / ((1 - smooth) / 8 + smooth));
});

const GGUF: Record<string, { meta: Record<string, unknown>; tensors?: Parameters<typeof Rope.fromGGUF>[1]; style: 'half' | 'interleaved' }> = {
  'llama-2-7b': { style: 'interleaved', meta: { 'general.architecture': 'llama', 'llama.context_length': 4096, 'llama.embedding_length': 4096, 'llama.attention.head_count': 32, 'llama.rope.dimension_count': 128 } },
  'llama-3.1-8b': { style: 'interleaved', tensors: { ropeFreqs: llama3Freqs }, meta: { 'general.architecture': 'llama', 'llama.context_length': 131072, 'llama.embedding_length': 4096, 'llama.attention.head_count': 32, 'llama.rope.dimension_count': 128, 'llama.rope.freq_base': 500000 } },
  'mistral-7b-v0.1': { style: 'interleaved', meta: { 'general.architecture': 'llama', 'llama.context_length': 32768, 'llama.embedding_length': 4096, 'llama.attention.head_count': 32, 'llama.rope.dimension_count': 128, 'llama.rope.freq_base': 10000 } },
  'qwen2.5-7b': { style: 'half', meta: { 'general.architecture': 'qwen2', 'qwen2.context_length': 131072, 'qwen2.embedding_length': 3584, 'qwen2.attention.head_count': 28, 'qwen2.rope.freq_base': 1000000 } },
  // node-llama-cpp hands metadata over nested, not as flat keys
  'qwen2-vl-7b-instruct': { style: 'half', meta: { general: { architecture: 'qwen2vl' }, qwen2vl: { context_length: 32768, embedding_length: 3584, attention: { head_count: 28 }, rope: { freq_base: 1000000, dimension_sections: [16, 24, 24, 0] } } } },
  'phi-3-mini-128k-instruct': { style: 'half', tensors: { ropeFactorsShort: phiShort, ropeFactorsLong: (phi3.rope_scaling as { long_factor: number[] }).long_factor, contextLength: 4096 /* llama.cpp n_ctx <= original: short factors */ }, meta: { 'general.architecture': 'phi3', 'phi3.context_length': 131072, 'phi3.embedding_length': 3072, 'phi3.attention.head_count': 32, 'phi3.rope.dimension_count': 96, 'phi3.rope.freq_base': 10000, 'phi3.rope.scaling.type': 'longrope', 'phi3.rope.scaling.original_context_length': 4096, 'phi3.rope.scaling.attn_factor': Math.fround(Math.sqrt(1 + Math.log(32) / Math.log(4096))) } },
  'deepseek-v2': { style: 'interleaved', meta: { 'general.architecture': 'deepseek2', 'deepseek2.context_length': 163840, 'deepseek2.attention.key_length': 192, 'deepseek2.rope.dimension_count': 64, 'deepseek2.rope.freq_base': 10000, 'deepseek2.rope.scaling.type': 'yarn', 'deepseek2.rope.scaling.factor': 40, 'deepseek2.rope.scaling.original_context_length': 4096, 'deepseek2.rope.scaling.yarn_log_multiplier': Math.fround(0.0707) } },
  'deepseek-v3': { style: 'interleaved', meta: { 'general.architecture': 'deepseek2', 'deepseek2.context_length': 163840, 'deepseek2.attention.key_length': 192, 'deepseek2.rope.dimension_count': 64, 'deepseek2.rope.freq_base': 10000, 'deepseek2.rope.scaling.type': 'yarn', 'deepseek2.rope.scaling.factor': 40, 'deepseek2.rope.scaling.original_context_length': 4096, 'deepseek2.rope.scaling.yarn_log_multiplier': Math.fround(0.1) } },
  'gpt-neox-20b': { style: 'half', meta: { 'general.architecture': 'gptneox', 'gptneox.context_length': 2048, 'gptneox.embedding_length': 6144, 'gptneox.attention.head_count': 64, 'gptneox.rope.dimension_count': 24 } },
  'pythia-160m': { style: 'half', meta: { 'general.architecture': 'gptneox', 'gptneox.context_length': 2048, 'gptneox.embedding_length': 768, 'gptneox.attention.head_count': 12, 'gptneox.rope.dimension_count': 16 } },
};

describe('Rope.fromGGUF on the matching GGUF metadata', () => {
  for (const [name, g] of Object.entries(GGUF)) {
    it(name, () => {
      const e = MODELS[name];
      // llama.cpp's converter permutes the q/k rows of Llama-family weights, so NORM (interleaved)
      // pairs on GGUF tensors are the rotate_half pairs of the HF tensors: same rotation, other layout.
      const want = { ...e, style: g.style };
      const rope = Rope.fromGGUF(g.meta, g.tensors);
      if (name === 'llama-3.1-8b') {
        // rope_freqs is stored in float32: invFreq within float32 rounding of transformers' llama3
        for (let j = 0; j < 64; j++) expect(Math.abs(rope.invFreq[j] - llama31(j, 128, 500000))).toBeLessThanOrEqual(1e-7 * llama31(j, 128, 500000));
        expect(rope.style).toBe('interleaved');
        return;
      }
      // llama.cpp's M-RoPE reads 4 position rows (the 4th section is 0 for Qwen2-VL)
      checkRope(name, rope, want, name.startsWith('qwen2-vl') ? 4 : 1);
      const fromConfig = ropeOptionsFromConfig(load(name));
      const fromGguf = ropeOptionsFromGGUF(g.meta, g.tensors);
      expect(fromGguf.mropeSection).toEqual(fromConfig.mropeSection && [...fromConfig.mropeSection, 0]);
      expect(fromGguf.scaling?.type).toBe(fromConfig.scaling?.type);
    });
  }

  it('errors: unknown architecture: a short message with close names and the Rope to build by hand; gptj has no RoPE in llama.cpp', () => {
    expect(() => Rope.fromGGUF({ 'general.architecture': 'nosuch' })).toThrow(/general\.architecture 'nosuch' is not in rope-simd's table \(the \d+ architectures llama\.cpp b\d+ rotates\)\. Build the Rope by hand from the architecture's llama\.cpp code: new Rope\(\{ headDim: /);
    // short: no list of every name
    expect(() => Rope.fromGGUF({ 'general.architecture': 'nosuch' })).toThrow(/^.{0,520}$/s);
    expect(() => Rope.fromGGUF({ 'general.architecture': 'qwen9' })).toThrow(/close names: (qwen[a-z0-9_]*, )*qwen2[,.]/);
    expect(() => Rope.fromGGUF({ 'general.architecture': 'gptj' })).toThrow(/LLAMA_ROPE_TYPE_NONE/);
    expect(() => Rope.fromGGUF({})).toThrow(/general\.architecture'\] must be a string, got undefined/);
    expect(() => Rope.fromGGUF({ 'general.architecture': 'phi3', 'phi3.attention.key_length': 96, 'phi3.rope.scaling.type': 'longrope', 'phi3.rope.scaling.original_context_length': 4096 })).toThrow(/rope_factors_short\/long tensors/);
    expect(() => Rope.fromGGUF({ 'general.architecture': 'llama', 'llama.attention.key_length': 128, 'llama.rope.scaling.type': 'ntk' })).toThrow(/llama\.rope\.scaling\.type must be 'none', 'linear', 'yarn' or 'longrope', got 'ntk'/);
    expect(() => Rope.fromGGUF({ 'general.architecture': 'qwen2vl', 'qwen2vl.attention.key_length': 128 })).toThrow(/qwen2vl\.rope\.dimension_sections is required/);
  });

  it('linear and yarn metadata map to our scalings (qwen3vl: interleaved sections)', () => {
    expect(ropeOptionsFromGGUF({ 'general.architecture': 'llama', 'llama.attention.key_length': 128, 'llama.rope.scaling.type': 'linear', 'llama.rope.scaling.factor': 4 }).scaling)
      .toEqual({ type: 'linear', factor: 4 });
    expect(ropeOptionsFromGGUF({ 'general.architecture': 'qwen3', 'qwen3.attention.key_length': 128, 'qwen3.rope.scaling.type': 'yarn', 'qwen3.rope.scaling.factor': 4, 'qwen3.rope.scaling.original_context_length': 32768 }).scaling)
      .toEqual({ type: 'yarn', factor: 4, originalMaxPositions: 32768, attentionFactor: 0.1 * Math.log(4) + 1 }); // llama.cpp's get_mscale(factor)
    expect(ropeOptionsFromGGUF({ 'general.architecture': 'qwen3vl', 'qwen3vl.attention.key_length': 128, 'qwen3vl.rope.dimension_sections': [24, 20, 20, 0] }))
      .toMatchObject({ style: 'half', mropeSection: [24, 20, 20, 0], mropeInterleaved: true });
  });
});

describe('fromConfig head counts', () => {
  it.each([0, -4, 2.5])('num_attention_heads %s is refused by name', (n) => {
    expect(() => ropeOptionsFromConfig({ model_type: 'llama', hidden_size: 64, num_attention_heads: n })).toThrow(RangeError);
    expect(() => ropeOptionsFromConfig({ model_type: 'llama', hidden_size: 64, num_attention_heads: n })).toThrow(/num_attention_heads/);
  });
});
