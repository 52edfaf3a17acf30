// From real .gguf files (tiny, written by llama.cpp's `gguf` Python writer: scripts/gen/gen-gguf-fixtures.py)
// to Ropes, through @huggingface/gguf and examples/gguf-file.mjs; per-layer reading as llama.cpp's
// load_hparams does it; the generated architecture table against facts quoted from llama.cpp.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Rope } from '../../lib/index.js';
import { createRope, nativeAddon } from '../../lib/internal.js';
import { ropeOptionsFromGGUF, GGUF_ARCHITECTURES } from '../../lib/models/gguf.js';
import { GGUF_ARCHES, LLAMA_CPP_COMMIT, LLAMA_CPP_TAG } from '../../lib/generated/gguf-arches.js';
import { ggmlFixtures } from '../helpers/fixtures.js';
import { pairSections } from '../../lib/scaling.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/gguf/${name}`, import.meta.url));
type Loaded = { rope: Rope; layers: (Rope | null)[] };
const example = '../../examples/gguf-file.mjs'; // a path in a variable: the .mjs has no type declarations
const load = async (name: string): Promise<Loaded> => {
  const { ropeFromGGUFFile } = (await import(/* @vite-ignore */ example)) as { ropeFromGGUFFile(p: string): Promise<Loaded> };
  return ropeFromGGUFFile(fixture(name));
};
const inv = (base: number, dim: number, j: number) => Math.pow(base, (-2 * j) / dim);

/** Rotates one head in float64: pair (a, b) of pair index j by angle pos(j) * invFreq[j]. */
function rotate(x: Float32Array, style: 'half' | 'interleaved', invFreq: number[], pos: (j: number) => number): Float64Array {
  const out = Float64Array.from(x);
  const half = invFreq.length;
  for (let j = 0; j < half; j++) {
    const [a, b] = style === 'half' ? [j, j + half] : [2 * j, 2 * j + 1];
    const t = pos(j) * invFreq[j];
    out[a] = x[a] * Math.cos(t) - x[b] * Math.sin(t);
    out[b] = x[a] * Math.sin(t) + x[b] * Math.cos(t);
  }
  return out;
}
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

describe('a .gguf file to Ropes (@huggingface/gguf, examples/gguf-file.mjs)', () => {
  it('llama: NORM pairs, Llama 3.1 scaling from the rope_freqs tensor, one Rope for every block', async () => {
    const { rope, layers } = await load('llama.gguf');
    expect([rope.style, rope.headDim, rope.rotaryDim]).toEqual(['interleaved', 64, 64]);
    // transformers' llama3 rule with factor 8, low 1, high 4, original 8192; the file stores float32
    for (let j = 0; j < 32; j++) {
      const f = inv(500000, 64, j);
      const wavelen = (2 * Math.PI) / f;
      let want = f;
      if (wavelen > 8192) want = f / 8;
      else if (wavelen >= 8192 / 4) {
        const s = (8192 / wavelen - 1) / 3;
        want = ((1 - s) * f) / 8 + s * f;
      }
      expect(Math.abs(rope.invFreq[j] - want)).toBeLessThanOrEqual(2e-7 * want);
    }
    expect(layers).toHaveLength(4);
    expect(new Set(layers).size).toBe(1);
    expect(layers[0]!.invFreq).toEqual(rope.invFreq);
  });

  it('qwen2: NEOX pairs and YaRN from rope.scaling.*', async () => {
    const { rope } = await load('qwen2.gguf');
    expect([rope.style, rope.headDim]).toEqual(['half', 64]);
    // YaRN attention factor 0.1 ln(4) + 1; the highest frequency is not interpolated, the lowest is
    expect(rope.attentionScaling).toBeCloseTo(0.1 * Math.log(4) + 1, 12);
    expect(rope.invFreq[0]).toBe(1);
    expect(rope.invFreq[31]).toBeCloseTo(inv(1e6, 64, 31) / 4, 15);
  });

  it('gemma3: sliding layers (5 of 6) use rope.freq_base_swa and no linear scaling; full ones the scaled base', async () => {
    const { rope, layers } = await load('gemma3.gguf');
    expect(layers).toHaveLength(12);
    const full = layers[5]!;
    const swa = layers[0]!;
    // llama_hparams::set_swa_pattern(6): layer il slides when il % 6 < 5
    expect(layers.map((l) => (l === full ? 'F' : l === swa ? 'S' : '?')).join('')).toBe('SSSSSFSSSSSF');
    expect(full.invFreq[1]).toBeCloseTo(inv(1e6, 64, 1) / 8, 15);
    expect(swa.invFreq[1]).toBeCloseTo(inv(1e4, 64, 1), 15);
    expect(rope.invFreq).toEqual(full.invFreq);
  });

  it('gemma4: per-layer bool pattern; sliding layers have their own head size and rotary dims', async () => {
    const { layers } = await load('gemma4.gguf');
    expect(layers.map((l) => `${l!.headDim}/${l!.rotaryDim}`)).toEqual(['64/64', '64/64', '128/128', '64/64', '64/64', '128/128']);
    expect(layers[0]!.invFreq[1]).toBeCloseTo(inv(1e4, 64, 1), 15);
    expect(layers[2]!.invFreq[1]).toBeCloseTo(inv(1e6, 128, 1), 15);
  });

  it('llama4: NoPE on every 4th layer ((il + 1) % n_no_rope_layer_step == 0)', async () => {
    const { layers } = await load('llama4.gguf');
    expect(layers.map((l) => (l === null ? '-' : 'R')).join('')).toBe('RRR-RRR-');
    expect(new Set(layers.filter((l) => l !== null)).size).toBe(1); // chunked layers inherit base and scale
  });

  it('qwen3vl: IMROPE with 4 position rows; the pairs past the sections read row 3 (0 for text in llama.cpp)', async () => {
    const { rope, layers } = await load('qwen3vl.gguf');
    expect(layers).toHaveLength(2);
    expect(rope.style).toBe('half');
    const x = Float32Array.from({ length: 128 }, (_, i) => Math.cos(i * 0.7 + 0.3));
    const invFreq = Array.from({ length: 64 }, (_, j) => inv(5e6, 128, j));
    const p = 200000;
    // ggml rope_multi, is_imrope with sections [24, 20, 20, 0]: sector % 3 == 1 && sector < 3*20 -> h,
    // == 2 && < 3*20 -> w, == 0 && < 3*24 -> t, else e. Text tokens: t = h = w = p, e = 0.
    const secs = [24, 20, 20];
    const ggml = rotate(x, 'half', invFreq, (j) => (j < 3 * secs[j % 3] ? p : 0));
    const opts = ropeOptionsFromGGUF({ 'general.architecture': 'qwen3vl', 'qwen3vl.attention.key_length': 128, 'qwen3vl.rope.freq_base': 5e6, 'qwen3vl.rope.dimension_sections': [24, 20, 20, 0] });
    const engines: [string, Rope][] = [['default', rope], ['js', createRope(opts, 'js')]];
    if (nativeAddon) engines.push(['native', createRope(opts, 'native')]);
    for (const [name, r] of engines) {
      const y = x.slice();
      r.apply(y, { heads: 1, positions: [p, p, p, 0] });
      expect(maxDiff(y, ggml), name).toBeLessThan(2e-6);
    }
    // transformers rotates pairs 61 and 62 by the text position instead: a real difference
    const hf = rotate(x, 'half', invFreq, () => p);
    expect(maxDiff(ggml, hf)).toBeGreaterThan(1e-2);
  });

  it("pairSections with llama.cpp's 4 sections: IMROPE leftovers to row 3, MROPE blocks t, h, w, e", () => {
    const im = pairSections(128, [24, 20, 20, 0], true)!;
    expect(Array.from(im.subarray(57, 64))).toEqual([0, 1, 2, 0, 3, 3, 0]); // j = 57..63
    expect(im.filter((r) => r === 3).length).toBe(2);
    expect(Array.from(pairSections(8, [1, 1, 1, 1])!)).toEqual([0, 1, 2, 3]);
    // transformers' 3-section rule is unchanged: leftovers read row 0
    expect(Array.from(pairSections(128, [24, 20, 20], true)!.subarray(60, 64))).toEqual([0, 0, 0, 0]);
  });

  it('qwen35: hybrid, attention only every full_attention_interval-th layer; 4 sections of 64 rotary dims', async () => {
    const { rope, layers } = await load('qwen35.gguf');
    expect(layers.map((l) => (l === null ? '-' : 'A')).join('')).toBe('---A---A');
    expect([rope.headDim, rope.rotaryDim]).toEqual([256, 64]);
  });

  it('gpt2: refused, llama.cpp applies no RoPE to it', async () => {
    await expect(load('gpt2.gguf')).rejects.toThrow(/general\.architecture 'gpt2': llama\.cpp applies no RoPE for it \(LLAMA_ROPE_TYPE_NONE\)/);
  });
});

describe('Rope.layersFromGGUF on metadata', () => {
  const gemma3 = { 'general.architecture': 'gemma3', 'gemma3.block_count': 6, 'gemma3.attention.key_length': 64, 'gemma3.rope.freq_base': 1e6 };

  it('gemma3 without attention.sliding_window: every layer full (llama.cpp: swa_type NONE)', () => {
    const layers = Rope.layersFromGGUF(gemma3);
    expect(new Set(layers).size).toBe(1);
    expect(layers[0]!.invFreq[1]).toBeCloseTo(inv(1e6, 64, 1), 15);
  });

  it('gemma3 with a window and no freq_base_swa: sliding layers at llama.cpp default 10000', () => {
    const layers = Rope.layersFromGGUF({ ...gemma3, 'gemma3.attention.sliding_window': 512, 'gemma3.attention.sliding_window_pattern': 3 });
    expect(layers.map((l) => Math.round(1 / l!.invFreq[32 - 1]))).toEqual([1e4, 1e4, 1e6, 1e4, 1e4, 1e6].map((b) => Math.round(1 / inv(b, 64, 31))));
  });

  it('gemma3 reads the pattern as a scalar period: an array leaves llama.cpp default 6 (its scalar read returns false)', () => {
    const layers = Rope.layersFromGGUF({ ...gemma3, 'gemma3.block_count': 12, 'gemma3.attention.sliding_window': 8, 'gemma3.attention.sliding_window_pattern': [true, false] });
    expect(layers.map((l) => (l === layers[5] ? 'F' : 'S')).join('')).toBe('SSSSSFSSSSSF');
  });

  it('rope_freqs: gemma4 gives them to full layers only, llama4 to every rotating layer', () => {
    const g = Rope.layersFromGGUF({ 'general.architecture': 'gemma4', 'gemma4.block_count': 2, 'gemma4.attention.key_length': 64, 'gemma4.rope.freq_base': 1e6, 'gemma4.attention.sliding_window': 8, 'gemma4.attention.sliding_window_pattern': [true, false] }, { ropeFreqs: new Array(32).fill(4) });
    expect(g[0]!.invFreq[1]).toBeCloseTo(inv(1e4, 64, 1), 15); // sliding: base 10000, no factors
    expect(g[1]!.invFreq[1]).toBeCloseTo(inv(1e6, 64, 1) / 4, 15);
    const l = Rope.layersFromGGUF({ 'general.architecture': 'llama4', 'llama4.block_count': 4, 'llama4.attention.key_length': 64 }, { ropeFreqs: new Array(32).fill(4) });
    expect(l[0]!.invFreq[1]).toBeCloseTo(inv(1e4, 64, 1) / 4, 15);
    expect(l[0]).toBe(l[2]);
  });

  it('cohere2: 3 sliding then 1 full, sliding layers inherit the base (NORM pairs)', () => {
    const layers = Rope.layersFromGGUF({ 'general.architecture': 'cohere2', 'cohere2.block_count': 8, 'cohere2.attention.key_length': 128, 'cohere2.rope.freq_base': 50000, 'cohere2.attention.sliding_window': 4096 });
    expect(layers[0]!.style).toBe('interleaved');
    expect(new Set(layers).size).toBe(1); // same base and scale: one Rope
  });

  it('gpt-oss: alternating sliding/full with inherited YaRN', () => {
    const layers = Rope.layersFromGGUF({ 'general.architecture': 'gpt-oss', 'gpt-oss.block_count': 4, 'gpt-oss.attention.key_length': 64, 'gpt-oss.rope.freq_base': 150000, 'gpt-oss.attention.sliding_window': 128, 'gpt-oss.rope.scaling.type': 'yarn', 'gpt-oss.rope.scaling.factor': 32, 'gpt-oss.rope.scaling.original_context_length': 4096 });
    expect(new Set(layers).size).toBe(1);
    expect(layers[0]!.attentionScaling).toBeCloseTo(0.1 * Math.log(32) + 1, 12);
  });

  it('llama4 with attention.sliding_window = 0: step = block_count, so only the last layer is NoPE (llama.cpp as written)', () => {
    const layers = Rope.layersFromGGUF({ 'general.architecture': 'llama4', 'llama4.block_count': 6, 'llama4.attention.key_length': 128, 'llama4.attention.sliding_window': 0 });
    expect(layers.map((l) => (l === null ? '-' : 'R')).join('')).toBe('RRRRR-');
  });

  it('smollm3: NoPE every 4th layer; smallthinker without a window: all layers rotate', () => {
    const s = Rope.layersFromGGUF({ 'general.architecture': 'smollm3', 'smollm3.block_count': 8, 'smollm3.attention.key_length': 128 });
    expect(s.map((l) => (l === null ? '-' : 'R')).join('')).toBe('RRR-RRR-');
    const t = Rope.layersFromGGUF({ 'general.architecture': 'smallthinker', 'smallthinker.block_count': 4, 'smallthinker.attention.key_length': 128 });
    expect(t.every((l) => l !== null)).toBe(true);
  });

  it('hybrid models: no rotation where head_count_kv is 0 (lfm2), recurrent_layers (qwen3next)', () => {
    const lfm2 = Rope.layersFromGGUF({ 'general.architecture': 'lfm2', 'lfm2.block_count': 4, 'lfm2.attention.key_length': 64, 'lfm2.attention.head_count_kv': [0, 8, 0, 8] });
    expect(lfm2.map((l) => (l === null ? '-' : 'A')).join('')).toBe('-A-A');
    const next = Rope.layersFromGGUF({ 'general.architecture': 'qwen3next', 'qwen3next.block_count': 3, 'qwen3next.attention.key_length': 256, 'qwen3next.rope.dimension_count': 64, 'qwen3next.attention.recurrent_layers': [true, false, true] });
    expect(next.map((l) => (l === null ? '-' : 'A')).join('')).toBe('-A-');
  });

  it('NextN/MTP blocks at the end of block_count attend fully (qwen35: not recurrent)', () => {
    const q = Rope.layersFromGGUF({ 'general.architecture': 'qwen35', 'qwen35.block_count': 9, 'qwen35.nextn_predict_layers': 1, 'qwen35.attention.key_length': 256, 'qwen35.rope.dimension_count': 64, 'qwen35.rope.dimension_sections': [11, 11, 10, 0] });
    expect(q.map((l) => (l === null ? '-' : 'A')).join('')).toBe('---A---AA');
  });

  it('refusals name the key or the reason', () => {
    expect(() => Rope.layersFromGGUF({ 'general.architecture': 'llama', 'llama.attention.key_length': 64 })).toThrow(/llama\.block_count must be a positive integer up to 65536 \(the number of layers\), got undefined/);
    expect(() => Rope.layersFromGGUF({ 'general.architecture': 'mamba', 'mamba.block_count': 2 })).toThrow(/llama\.cpp applies no RoPE for it/);
    expect(() => Rope.layersFromGGUF({ 'general.architecture': 'dflash', 'dflash.block_count': 2, 'dflash.attention.key_length': 64 })).toThrow(/llama\.cpp picks its rope type from 'model->hparams\.dsv4_hc_mult > 0'/);
    expect(() => Rope.layersFromGGUF({ 'general.architecture': 'gemma4', 'gemma4.block_count': 2, 'gemma4.attention.key_length': 64 })).toThrow(/gemma4\.attention\.sliding_window_pattern is required/);
    expect(() => Rope.layersFromGGUF({ 'general.architecture': 'gemma4', 'gemma4.block_count': 3, 'gemma4.attention.key_length': 64, 'gemma4.attention.sliding_window_pattern': [true, false] })).toThrow(/gemma4\.attention\.sliding_window_pattern must have one entry per block \(3\), got 2/);
    const unread = Object.entries(GGUF_ARCHES).find(([, e]) => e.unread !== undefined && e.rope !== 'none' && typeof e.rope === 'string');
    if (unread) {
      const [a] = unread;
      expect(() => Rope.layersFromGGUF({ 'general.architecture': a, [`${a}.block_count`]: 2, [`${a}.attention.key_length`]: 64 })).toThrow(/per-layer RoPE is set in code rope-simd does not read/);
    }
    expect(() => Rope.fromGGUF({ 'general.architecture': 'qwen2vl', 'qwen2vl.attention.key_length': 128, 'qwen2vl.rope.dimension_sections': [16, 24, 24] })).toThrow(/qwen2vl\.rope\.dimension_sections must have 4 entries/);
  });
});

describe(`the architecture table generated from llama.cpp ${LLAMA_CPP_TAG} (${LLAMA_CPP_COMMIT})`, () => {
  it('names its source', () => {
    expect(LLAMA_CPP_COMMIT).toMatch(/^[0-9a-f]{40}$/);
    expect(readFileSync(new URL('../../lib/generated/gguf-arches.ts', import.meta.url), 'utf8')).toMatch(/^\/\/ GENERATED by scripts\/gen\/gen-gguf-arches\.mjs from llama\.cpp [0-9a-f]{40}/);
  });

  // Quoted from src/llama-model.cpp llama_model_rope_type() at 22dc605c (b10256):
  //   case LLM_ARCH_LLAMA: case LLM_ARCH_LLAMA4: ... case LLM_ARCH_COHERE2: ... case LLM_ARCH_SMOLLM3:
  //   case LLM_ARCH_ERNIE4_5: ... case LLM_ARCH_MISTRAL3: ... return LLAMA_ROPE_TYPE_NORM;
  //   case LLM_ARCH_QWEN2: ... case LLM_ARCH_GEMMA3: case LLM_ARCH_GEMMA3N: case LLM_ARCH_GEMMA4: ...
  //   case LLM_ARCH_EXAONE4: ... case LLM_ARCH_HUNYUAN_MOE: ... case LLM_ARCH_OPENAI_MOE: ...
  //   case LLM_ARCH_LFM2: ... case LLM_ARCH_SEED_OSS: ... case LLM_ARCH_APERTUS: case LLM_ARCH_MINIMAX_M2:
  //   ... case LLM_ARCH_QWEN3NEXT: ... return LLAMA_ROPE_TYPE_NEOX;
  //   case LLM_ARCH_QWEN2VL: ... return LLAMA_ROPE_TYPE_MROPE;
  //   case LLM_ARCH_QWEN3VL: case LLM_ARCH_QWEN3VLMOE: case LLM_ARCH_QWEN35: case LLM_ARCH_QWEN35MOE:
  //       return LLAMA_ROPE_TYPE_IMROPE;
  //   case LLM_ARCH_GLM4:     return model->hparams.use_mrope() ? LLAMA_ROPE_TYPE_MROPE : LLAMA_ROPE_TYPE_NORM;
  //   case LLM_ARCH_GLM4_MOE: return model->hparams.use_mrope() ? LLAMA_ROPE_TYPE_MROPE : LLAMA_ROPE_TYPE_NEOX;
  //   case LLM_ARCH_GPT2: case LLM_ARCH_GPTJ: ... case LLM_ARCH_MAMBA: ... return LLAMA_ROPE_TYPE_NONE;
  const QUOTED: Record<string, unknown> = {
    llama: 'norm', llama4: 'norm', 'command-r': 'norm', cohere2: 'norm', smollm3: 'norm', ernie4_5: 'norm', 'ernie4_5-moe': 'norm',
    mistral3: 'norm', deepseek2: 'norm', granite: 'norm', minicpm: 'norm', chatglm: 'norm',
    qwen2: 'neox', qwen3: 'neox', qwen3moe: 'neox', qwen3next: 'neox', gemma3: 'neox', gemma3n: 'neox', gemma4: 'neox',
    exaone4: 'neox', 'hunyuan-moe': 'neox', 'gpt-oss': 'neox', lfm2: 'neox', seed_oss: 'neox', apertus: 'neox',
    'minimax-m2': 'neox', phi3: 'neox', minicpm3: 'neox', glm4moe: { ifSections: 'mrope', else: 'neox' },
    glm4: { ifSections: 'mrope', else: 'norm' }, qwen2vl: 'mrope', qwen3vl: 'imrope', qwen3vlmoe: 'imrope', qwen35: 'imrope', qwen35moe: 'imrope',
    gpt2: 'none', gptj: 'none', mamba: 'none', bloom: 'none',
  };
  for (const [arch, rope] of Object.entries(QUOTED)) {
    it(`${arch} -> ${JSON.stringify(rope)}`, () => expect(GGUF_ARCHES[arch]?.rope).toEqual(rope));
  }

  it('maps every architecture to a pair style (or NONE, or a condition llama.cpp states)', () => {
    expect(Object.keys(GGUF_ARCHES).length).toBeGreaterThan(120);
    const kinds = new Set(['norm', 'neox', 'mrope', 'imrope', 'none']);
    for (const [a, e] of Object.entries(GGUF_ARCHES)) {
      const r = e.rope;
      if (typeof r === 'string') expect(kinds.has(r), a).toBe(true);
      else expect('ifSections' in r || 'condition' in r, a).toBe(true);
    }
    // NORM -> interleaved, NEOX/MROPE/IMROPE -> half, for every architecture rope-simd accepts
    for (const a of GGUF_ARCHITECTURES) {
      const e = GGUF_ARCHES[a];
      if (typeof e.rope !== 'string') continue;
      const o = ropeOptionsFromGGUF({ 'general.architecture': a, [`${a}.attention.key_length`]: 128, [`${a}.rope.dimension_sections`]: [16, 24, 24, 0] });
      expect(o.style, a).toBe(e.rope === 'norm' ? 'interleaved' : 'half');
    }
  });

  it('glm4 follows llama.cpp: MROPE when rope.dimension_sections has sections 0 and 1, else NORM pairs', () => {
    expect(ropeOptionsFromGGUF({ 'general.architecture': 'glm4', 'glm4.attention.key_length': 128 })).toMatchObject({ style: 'interleaved' });
    expect(ropeOptionsFromGGUF({ 'general.architecture': 'glm4', 'glm4.attention.key_length': 128, 'glm4.rope.dimension_sections': [8, 12, 12, 32] }))
      .toMatchObject({ style: 'half', mropeSection: [8, 12, 12, 32] });
  });

  // Quoted from src/models/*.cpp load_arch_hparams at 22dc605c: gemma3 `uint32_t swa_period = 6;`
  // (no rope_freq_base_train_swa = ...base_train: SWA base defaults to 10000), gemma2 `swa_period = 2`
  // and `rope_freq_base_train_swa = hparams.rope_freq_base_train;`, smollm3 `n_no_rope_layer_step = 4;`,
  // qwen35 `uint32_t full_attn_interval = 4;`.
  it('per-layer facts read from load_arch_hparams', () => {
    expect(GGUF_ARCHES.gemma3.swa).toMatchObject({ period: 6, when: 'sliding_window>0', baseInherit: false, scaleInherit: false, baseKey: true });
    expect(GGUF_ARCHES.gemma2.swa).toMatchObject({ period: 2, when: 'always', baseInherit: true });
    expect(GGUF_ARCHES.smollm3.noRope).toEqual({ step: 4, form: 'il+1' });
    expect(GGUF_ARCHES.qwen35.noAttention).toEqual({ recurrentLayersKey: true, fullAttentionInterval: 4 });
    expect(GGUF_ARCHES.gemma4.swa).toMatchObject({ arrayKey: true, required: true, perLayerRot: true });
  });
});

describe('scripts/gen/gen-gguf-arches.mjs on a llama.cpp-shaped tree', () => {
  it('reads names, rope types (with conditions) and per-layer facts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lcpp-'));
    mkdirSync(join(dir, 'src', 'models'), { recursive: true });
    // A made-up miniature in llama.cpp's layout (not llama.cpp's code).
    writeFileSync(join(dir, 'src', 'llama-arch.cpp'), 'static const std::map<llm_arch, const char *> LLM_ARCH_NAMES = {\n' +
      Array.from({ length: 50 }, (_, i) => `    { LLM_ARCH_A${i}, "a${i}" },\n`).join('') +
      '    { LLM_ARCH_SW, "sw" },\n    { LLM_ARCH_C, "c" },\n    { LLM_ARCH_UNKNOWN, "(unknown)" },\n};\n');
    writeFileSync(join(dir, 'src', 'llama-context.cpp'), 'if (model.arch == LLM_ARCH_C && mscale_all_dims != 1.0f) {}\n');
    writeFileSync(join(dir, 'src', 'llama-hparams.h'), 'uint32_t n_no_rope_layer_step = 4;\nfloat rope_freq_base_train_swa = 10000.0f;\n');
    writeFileSync(join(dir, 'src', 'llama-model.cpp'), 'static llama_model * llama_model_mapping(llm_arch arch) {\n switch (arch) {\n' +
      '  case LLM_ARCH_SW: return new llama_model_sw(params);\n }\n}\n' +
      'llama_rope_type llama_model_rope_type(const llama_model * model) {\n  switch (model->arch) {\n' +
      Array.from({ length: 50 }, (_, i) => `    case LLM_ARCH_A${i}:\n`).join('') + '      return LLAMA_ROPE_TYPE_NORM;\n' +
      '    case LLM_ARCH_SW: // a comment\n      return LLAMA_ROPE_TYPE_NEOX;\n' +
      '    case LLM_ARCH_C:\n      return model->hparams.use_mrope() ? LLAMA_ROPE_TYPE_MROPE : LLAMA_ROPE_TYPE_NORM;\n  }\n}\n');
    writeFileSync(join(dir, 'src', 'models', 'sw.cpp'), 'void llama_model_sw::load_arch_hparams(llama_model_loader & ml) {\n' +
      '    const bool found_swa = ml.get_key(LLM_KV_ATTENTION_SLIDING_WINDOW, hparams.n_swa, false);\n' +
      '    if (found_swa && hparams.n_swa > 0) {\n        uint32_t swa_period = 3;\n' +
      '        ml.get_key_or_arr(LLM_KV_ATTENTION_SLIDING_WINDOW_PATTERN, swa_period, false);\n        hparams.set_swa_pattern(swa_period, true);\n' +
      '        hparams.rope_freq_base_train_swa = hparams.rope_freq_base_train;\n    }\n}\n' +
      'void graph() { const float b = model.get_rope_freq_base(cparams, il); }\n');
    const out = join(dir, 'out.ts');
    const script = fileURLToPath(new URL('../../scripts/gen/gen-gguf-arches.mjs', import.meta.url));
    execFileSync(process.execPath, [script, dir, '--commit', 'a'.repeat(40), '--out', out]);
    const text = readFileSync(out, 'utf8');
    expect(text).toContain(`from llama.cpp ${'a'.repeat(40)}`);
    const entry = (n: string) => JSON.parse(new RegExp(`^  "${n}": (.*),$`, 'm').exec(text)![1]);
    expect(entry('a7').rope).toBe('norm');
    expect(entry('c').rope).toEqual({ ifSections: 'mrope', else: 'norm' });
    expect(entry('sw')).toMatchObject({ rope: 'neox', file: 'src/models/sw.cpp', swa: { period: 3, denseFirst: true, periodKey: true, when: 'sliding_window>0', baseInherit: true, scaleInherit: false } });
  });
});

describe('GGUF metadata for the ggml conformance vectors gives ggml\'s rotation', () => {
  for (const f of ggmlFixtures()) {
    it(f.name, () => {
      // mode 0 (NORM) -> a llama file, mode 2 (NEOX) -> a gptneox file; freq_scale/ext_factor -> rope.scaling.*
      const a = f.ggml_mode === 0 ? 'llama' : 'gptneox';
      const meta: Record<string, unknown> = { 'general.architecture': a, [`${a}.attention.key_length`]: f.headDim, [`${a}.rope.dimension_count`]: f.rotaryDim, [`${a}.rope.freq_base`]: f.freq_base };
      if (f.freq_scale !== 1) {
        meta[`${a}.rope.scaling.type`] = f.ext_factor !== 0 ? 'yarn' : 'linear';
        meta[`${a}.rope.scaling.factor`] = 1 / f.freq_scale;
        meta[`${a}.rope.scaling.original_context_length`] = f.n_ctx_orig;
      }
      const rope = Rope.fromGGUF(meta);
      const x = Float32Array.from(f.input);
      rope.apply(x, { heads: f.heads, positions: Int32Array.from(f.positions) });
      const scale = Math.max(...f.output_exact.map(Math.abs));
      expect(maxDiff(x, f.output_exact)).toBeLessThanOrEqual(1e-6 * scale);
    });
  }
});

describe('rope.scaling.* as llama.cpp b10256 reads it (load_hparams, llama_context, get_rope_factors)', () => {
  const base = (a: string, extra: Record<string, unknown>) => ({ 'general.architecture': a, [`${a}.attention.key_length`]: 64, [`${a}.context_length`]: 131072, ...extra });

  it('no rope.scaling.type: "linear" by default, so a bare factor scales linearly', () => {
    expect(ropeOptionsFromGGUF(base('llama', { 'llama.rope.scaling.factor': 4 })).scaling).toEqual({ type: 'linear', factor: 4 });
    expect(ropeOptionsFromGGUF(base('llama', { 'llama.rope.scale_linear': 2 })).scaling).toEqual({ type: 'linear', factor: 2 });
    expect(ropeOptionsFromGGUF(base('llama', { 'llama.rope.scaling.type': 'none', 'llama.rope.scaling.factor': 4 })).scaling).toBeUndefined();
  });

  it('yarn: beta keys only where the architecture reads them; attention factor get_mscale(factor) * attn_factor', () => {
    const q = ropeOptionsFromGGUF(base('qwen2', { 'qwen2.rope.scaling.type': 'yarn', 'qwen2.rope.scaling.factor': 4, 'qwen2.rope.scaling.original_context_length': 32768, 'qwen2.rope.scaling.yarn_beta_fast': 8, 'qwen2.rope.scaling.attn_factor': 0.5 }));
    expect(q.scaling).toEqual({ type: 'yarn', factor: 4, originalMaxPositions: 32768, attentionFactor: (0.1 * Math.log(4) + 1) * 0.5 });
    // mistral3 reads yarn_beta_* and a raw yarn_log_multiplier (mscale 1, mscale_all_dims = log_mul)
    const m = ropeOptionsFromGGUF(base('mistral3', { 'mistral3.rope.scaling.type': 'yarn', 'mistral3.rope.scaling.factor': 16, 'mistral3.rope.scaling.original_context_length': 16384, 'mistral3.rope.scaling.yarn_beta_fast': 8, 'mistral3.rope.scaling.yarn_log_multiplier': 1 }));
    expect(m.scaling).toMatchObject({ type: 'yarn', betaFast: 8, attentionFactor: 1 });
    // deepseek2: log_mul / 0.1 = mscale_all_dims, and mscale = mscale_all_dims (llama_context): factor 1
    const d = ropeOptionsFromGGUF(base('deepseek2', { 'deepseek2.rope.dimension_count': 64, 'deepseek2.rope.scaling.type': 'yarn', 'deepseek2.rope.scaling.factor': 40, 'deepseek2.rope.scaling.original_context_length': 4096, 'deepseek2.rope.scaling.yarn_log_multiplier': 0.0707 }));
    expect((d.scaling as { attentionFactor: number }).attentionFactor).toBeCloseTo(1, 15);
    // deepseek32 divides by 0.1 too but keeps mscale 1
    const d32 = ropeOptionsFromGGUF(base('deepseek32', { 'deepseek32.rope.dimension_count': 64, 'deepseek32.rope.scaling.type': 'yarn', 'deepseek32.rope.scaling.factor': 40, 'deepseek32.rope.scaling.original_context_length': 4096, 'deepseek32.rope.scaling.yarn_log_multiplier': 0.1 }));
    expect((d32.scaling as { attentionFactor: number }).attentionFactor).toBeCloseTo((0.1 * Math.log(40) + 1) / (0.1 * 1 * Math.log(40) + 1), 15);
  });

  it('longrope: the factors for the context size (default context_length), cos/sin times attn_factor', () => {
    const short = Array.from({ length: 32 }, () => 1);
    const long = Array.from({ length: 32 }, (_, j) => 1 + j);
    const meta = base('phi3', { 'phi3.rope.scaling.type': 'longrope', 'phi3.rope.scaling.original_context_length': 4096, 'phi3.rope.scaling.attn_factor': 1.19 });
    const r = Rope.fromGGUF(meta, { ropeFactorsShort: short, ropeFactorsLong: long });
    expect(r.invFreq[5]).toBeCloseTo(inv(10000, 64, 5) / 6, 15);
    expect(r.attentionScaling).toBe(1.19);
    const s = Rope.fromGGUF(meta, { ropeFactorsShort: short, ropeFactorsLong: long, contextLength: 4096 });
    expect(s.invFreq[5]).toBeCloseTo(inv(10000, 64, 5), 15);
  });

  it('combinations it cannot express are refused, not approximated', () => {
    expect(() => Rope.fromGGUF(base('llama', { 'llama.rope.scaling.factor': 4 }), { ropeFreqs: new Array(32).fill(1) })).toThrow(/the rope_freqs tensor with llama\.rope\.scaling\.factor 4 in one file is a combination rope-simd cannot express yet/);
    expect(() => Rope.fromGGUF(base('llama', { 'llama.rope.scaling.attn_factor': 2 }))).toThrow(/llama\.rope\.scaling\.attn_factor 2 with rope\.scaling\.type 'linear'/);
  });
});
