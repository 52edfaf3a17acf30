// Every model family against transformers' own code: fixtures from scripts/gen/gen-model-vectors.py
// (the family's config class, rotary module and apply function, run in float64). Each case is
// checked from the published config.json and from the config as transformers 5 saves it, on the
// JS and native engines; layered families are checked layer by layer against the attention
// modules' own choice of rotation.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Rope, createRope } from '../../lib/rope.js';
import { nativeAddon } from '../../lib/backend.js';
import { ropeOptionsFromConfig } from '../../lib/models/hf-config.js';
import { HF_FAMILY_STYLE } from '../../lib/generated/hf-families.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'models');

interface Fixture {
  case: string;
  model_type: string;
  source: string;
  config_published: Record<string, unknown>;
  config_saved: Record<string, unknown>;
  rot_head_dim: number;
  heads: number;
  tokens: number;
  positions: number[] | number[][];
  seed: number;
  style: 'half' | 'interleaved';
  output_f64: string;
  layers?: (string | null)[] | null;
  layer_rotary?: Record<string, { inv_freq: number[]; attention_scaling: number }>;
  /** Set when the model transformers builds from this config has no rotary module: why. */
  no_rope?: string;
  /** The layer type output_f64 is for, when not full_attention. */
  layer_type?: string;
}

const FIXTURES: Fixture[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Fixture);

/** The fixtures' input generator (test/fixtures/README.md). */
function input(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const u = Number((BigInt(i) * 2654435761n + BigInt(seed) * 40503n) % 4294967296n);
    out[i] = Math.fround((u / 4294967296) * 2 - 1);
  }
  return out;
}

function f32(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

function positionsOf(fx: Fixture): Int32Array {
  return Int32Array.from((fx.positions as (number | number[])[]).flat());
}

function maxRelErr(got: Float32Array, want: Float32Array): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  return err / scale;
}

const CONFIGS = ['config_published', 'config_saved'] as const;

/** DeepSeek-V3's rope_interleave: transformers rotates the adjacent pairs (2j, 2j+1) but writes pair j
 * to slots (j, j + d/2) (apply_rotary_pos_emb_interleave); rope-simd leaves it in (2j, 2j+1). q.k
 * is the same; to compare values, put transformers' output back in adjacent slots. */
function toAdjacent(fx: Fixture, want: Float32Array): Float32Array {
  const c = fx.config_published;
  const fam = HF_FAMILY_STYLE[fx.model_type];
  const halfSlots = fam?.slotsHalf || (fam?.interleaveKey !== undefined && c[fam.interleaveKey] !== false);
  if (!halfSlots) return want;
  const d = fx.rot_head_dim;
  const out = new Float32Array(want.length);
  for (let row = 0; row < want.length; row += d) {
    for (let j = 0; j < d / 2; j++) {
      out[row + 2 * j] = want[row + j];
      out[row + 2 * j + 1] = want[row + j + d / 2];
    }
  }
  return out;
}

describe('model families against transformers 5 (float64)', () => {
  it('has fixtures for the families the issue lists', () => {
    const types = new Set(FIXTURES.map((f) => f.model_type));
    for (const t of ['llama', 'llama4', 'mistral', 'mixtral', 'qwen2', 'qwen2_moe', 'qwen3', 'qwen3_moe', 'qwen3_next',
      'qwen2_vl', 'qwen2_5_vl', 'qwen3_vl', 'phi', 'phi3', 'phimoe', 'gpt_neox', 'gptj', 'falcon', 'stablelm', 'persimmon',
      'gemma', 'gemma2', 'gemma3', 'gemma3_text', 'gemma3n_text', 'cohere', 'cohere2', 'glm', 'glm4', 'glm4_moe', 'ernie4_5',
      'ernie4_5_moe', 'deepseek_v2', 'deepseek_v3', 'minicpm3', 'olmo', 'olmo2', 'granite', 'granitemoe', 'exaone4',
      'gpt_oss', 'starcoder2', 'nemotron', 'smollm3']) {
      expect(types, t).toContain(t);
    }
  });

  it('every model type of the family table has a fixture, or the reason it has none (models-not-driven.json)', () => {
    const notDriven = (JSON.parse(readFileSync(join(DIR, '..', 'models-not-driven.json'), 'utf8')) as { not_driven: Record<string, string> }).not_driven;
    const withFixture = new Set<string>();
    for (const f of FIXTURES) {
      withFixture.add(f.model_type);
      if (f.case.startsWith('default-')) withFixture.add(f.case.slice('default-'.length));
      const tc = f.config_published.text_config as { model_type?: string } | undefined;
      if (tc?.model_type) withFixture.add(tc.model_type);
    }
    const missing = Object.keys(HF_FAMILY_STYLE).filter((t) => !withFixture.has(t) && !(t in notDriven));
    expect(missing).toEqual([]);
    // the "cannot run yet" list stays short: each is a family still read without proof
    expect(Object.values(notDriven).filter((r) => r.startsWith('the harness cannot run')).length).toBeLessThanOrEqual(6);
  });

  // Every engine this run has (a run forcing ROPE_SIMD_BACKEND=js or wasm loads no addon).
  const ENGINES: ('js' | 'wasm' | 'native')[] = nativeAddon ? ['js', 'wasm', 'native'] : ['js', 'wasm'];
  for (const fx of FIXTURES.filter((f) => f.no_rope !== undefined)) {
    describe(`${fx.case} (no RoPE in transformers)`, () => {
      for (const which of CONFIGS) {
        it(`${which}: fromConfig refuses, saying why; layersFromConfig gives null for every layer`, () => {
          expect(() => Rope.fromConfig(fx[which])).toThrow(/applies no RoPE|applies RoPE only when|builds no rotary embedding/);
          if (fx.layers) expect(Rope.layersFromConfig(fx[which])).toEqual(fx.layers);
        });
      }
    });
  }

  for (const fx of FIXTURES.filter((f) => f.no_rope === undefined)) {
    describe(fx.case, () => {
      const want = toAdjacent(fx, f32(fx.output_f64));
      for (const which of CONFIGS) {
        for (const engine of ENGINES) {
          it(`${which}, ${engine} engine`, () => {
            if (HF_FAMILY_STYLE[fx.model_type]?.negated) {
              // refused by fromConfig; the Rope built by hand as the message says, with inverse: true
              expect(() => ropeOptionsFromConfig(fx[which])).toThrow(/rotates by minus the angle.*inverse: true/);
              const c = fx[which] as { head_dim?: number; hidden_size: number; num_attention_heads: number; rope_parameters?: { rope_theta?: number } };
              const rope = createRope({ headDim: c.head_dim ?? c.hidden_size / c.num_attention_heads, base: c.rope_parameters?.rope_theta ?? 10000, style: 'half' }, engine);
              expect(rope.headDim).toBe(fx.rot_head_dim);
              const x = input(fx.tokens * fx.heads * fx.rot_head_dim, fx.seed);
              rope.apply(x, { positions: positionsOf(fx), heads: fx.heads, tokens: fx.tokens, inverse: true });
              expect(maxRelErr(x, want)).toBeLessThan(1e-5);
              return;
            }
            if (HF_FAMILY_STYLE[fx.model_type]?.ropeTail) {
              // refused by fromConfig; the Rope for its sliding layers ('main') built as the message says
              const c = fx[which] as { head_dim: number; qk_rope_head_dim?: number; rope_parameters: { main: { rope_theta: number } } };
              const m = /Build the Ropes by hand: new Rope\(\{ headDim: (\d+), rotaryDim: (\d+), base: ([\d.e+]+), style: 'interleaved', rotarySlice: 'trailing' \}\) for the sliding layers/
                .exec(String((() => { try { ropeOptionsFromConfig(fx[which]); } catch (e) { return (e as Error).message; } return ''; })()));
              expect(m, 'the refusal names the Rope to build').not.toBeNull();
              expect(fx.layer_type).toBe('main');
              expect([Number(m![1]), Number(m![3])]).toEqual([c.head_dim, c.rope_parameters.main.rope_theta]);
              const rope = createRope({ headDim: Number(m![1]), rotaryDim: Number(m![2]), base: Number(m![3]), style: 'interleaved', rotarySlice: 'trailing' }, engine);
              expect(rope.headDim).toBe(fx.rot_head_dim);
              const x = input(fx.tokens * fx.heads * fx.rot_head_dim, fx.seed);
              rope.apply(x, { positions: positionsOf(fx), heads: fx.heads, tokens: fx.tokens });
              expect(maxRelErr(x, want)).toBeLessThan(1e-5);
              return;
            }
            const opts = ropeOptionsFromConfig(fx[which], fx.layer_type ?? 'full_attention');
            expect(opts.style).toBe(fx.style);
            const rope = createRope(opts, engine);
            expect(rope.headDim).toBe(fx.rot_head_dim);
            const x = input(fx.tokens * fx.heads * fx.rot_head_dim, fx.seed);
            rope.apply(x, { positions: positionsOf(fx), heads: fx.heads, tokens: fx.tokens });
            expect(maxRelErr(x, want)).toBeLessThan(1e-5);
          });
        }
      }
      it('the family table gives the style the family code uses', () => {
        const c = fx.config_published;
        const t = ((c.text_config as { model_type?: string } | undefined)?.model_type ?? c.model_type) as string;
        const fam = HF_FAMILY_STYLE[t] ?? HF_FAMILY_STYLE[fx.model_type];
        expect(fam, t).toBeDefined();
        const style = fam.interleaveKey ? (c[fam.interleaveKey] === false ? 'half' : 'interleaved') : fam.style;
        expect(style).toBe(fx.style);
      });
      if (fx.layers) {
        const truth = fx.layers;
        for (const which of CONFIGS) {
          it(`layersFromConfig(${which}) matches each layer's attention module`, () => {
            const layers = Rope.layersFromConfig(fx[which]);
            expect(layers.length).toBe(truth.length);
            const byType = new Map<string, Rope>();
            layers.forEach((rope, i) => {
              const t = truth[i];
              if (t === null) {
                expect(rope, `layer ${i}`).toBeNull();
                return;
              }
              expect(rope, `layer ${i}`).not.toBeNull();
              const r = fx.layer_rotary![t];
              const inv = rope!.invFreq;
              expect(inv.length).toBe(r.inv_freq.length);
              for (let j = 0; j < inv.length; j++) {
                expect(Math.abs(inv[j] - r.inv_freq[j]), `layer ${i} invFreq[${j}]`).toBeLessThanOrEqual(1e-12 * Math.abs(r.inv_freq[j]) + 1e-300);
              }
              expect(rope!.attentionScaling).toBeCloseTo(r.attention_scaling, 12);
              // one instance per layer type
              const prev = byType.get(t);
              if (prev) expect(rope).toBe(prev);
              else byType.set(t, rope!);
            });
          });
        }
      }
    });
  }
});
