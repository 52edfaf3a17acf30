// Every conformance vector (transformers and ggml), through new Rope({...}) with our option names
// and, for the transformers ones, through Rope.fromConfig(file.config). Runs on the default backend
// (CI runs it natively and again with ROPE_SIMD_BACKEND=js).
import { describe, expect, it } from 'vitest';
import { Rope, backendInfo } from '../../lib/index.js';
import { ggmlFixtures, ggmlOptions, hfFixtures, hfOptions, printedDiff, type HfFixture } from '../helpers/fixtures.js';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
const maxAbs = (a: ArrayLike<number>) => maxAbsDiff(a, new Float64Array(a.length));

/** Positions as apply() takes them: one row per M-RoPE section, row-major. */
const positionsOf = (f: { positions: number[] | number[][] }): number[] => (f.positions as (number | number[])[]).flat();

/** The fixture input rotated by rope. */
function rotated(rope: Rope, f: { input: number[]; heads: number; positions: number[] | number[][] }): Float32Array {
  const x = Float32Array.from(f.input);
  rope.apply(x, { heads: f.heads, positions: positionsOf(f) });
  return x;
}

/** Rotates the fixture input and returns the max abs error against output_exact. */
function run(rope: Rope, f: { input: number[]; heads: number; positions: number[] | number[][]; output_exact: number[] }): number {
  return maxAbsDiff(rotated(rope, f), f.output_exact);
}

// The stored configs hold what transformers reads; HF Llama has no interleaved path, so the one
// interleaved case says so with the GPT-J-style flag fromConfig understands.
function configOf(f: HfFixture): Record<string, unknown> {
  return f.style === 'interleaved' ? { ...f.config, rotary_emb_interleaved: true } : f.config;
}

const report: string[] = [];
// The printed differences have 3 digits; below ~1e-7 they are float32 rounding noise.
const ULP_SLACK = 2e-8;

describe(`transformers vectors (backend ${backendInfo.backend}/${backendInfo.isa})`, () => {
  for (const f of hfFixtures()) {
    describe(f.name, () => {
      const tol = 1e-6 * maxAbs(f.output_exact);
      const built = new Rope(hfOptions(f));
      // (the stored configs carry no model_type: read with Llama's rules, as the caller opts in to)
      const fromConfig = Rope.fromConfig(configOf(f), { unknownModel: 'llama' });

      it('new Rope({...}) matches output_exact', () => {
        expect(run(built, f)).toBeLessThanOrEqual(tol);
      });

      it('Rope.fromConfig(file.config) matches output_exact and builds the same rope', () => {
        expect(run(fromConfig, f)).toBeLessThanOrEqual(tol);
        expect(fromConfig.headDim).toBe(f.headDim);
        expect(fromConfig.rotaryDim).toBe(f.rotaryDim);
        expect(fromConfig.style).toBe(f.style);
        expect(Array.from(fromConfig.invFreq)).toEqual(Array.from(built.invFreq));
        expect(fromConfig.attentionScaling).toBe(built.attentionScaling);
      });

      it('invFreq and attentionScaling equal transformers (to the printed 9 digits)', () => {
        expect(printedDiff(built.attentionScaling, f.attention_scaling)).toBeLessThanOrEqual(0.5);
        // dynamic and longrope choose frequencies per call; their output check above covers them
        if (f.seq_len_used !== undefined) return;
        const inv = built.invFreq;
        expect(inv.length).toBe(f.inv_freq_exact_f64.length);
        for (let j = 0; j < inv.length; j++) expect(printedDiff(inv[j], f.inv_freq_exact_f64[j])).toBeLessThanOrEqual(0.5);
      });

      it("differs from transformers' own float32 output (output_hf_f32) by the documented max_abs_diff_hf_f32_vs_f64", () => {
        // ours is output_exact within tol, so its distance from transformers' float32 output is
        // the fixture's documented one within tol: near it where the float32 angles drift (an
        // engine forming angles in float32 would land near 0 there), never above it
        const d = maxAbsDiff(rotated(built, f), f.output_hf_f32);
        expect(d).toBeLessThanOrEqual(f.max_abs_diff_hf_f32_vs_f64 * 1.05 + tol + ULP_SLACK);
        expect(d).toBeGreaterThanOrEqual(f.max_abs_diff_hf_f32_vs_f64 * 0.95 - tol - ULP_SLACK);
        report.push(`hf   ${f.name.padEnd(18)} ours vs transformers f32 ${d.toExponential(2)}  ours vs exact ${run(built, f).toExponential(2)}`);
      });
    });
  }
});

describe(`ggml vectors (backend ${backendInfo.backend}/${backendInfo.isa})`, () => {
  for (const f of ggmlFixtures()) {
    describe(f.name, () => {
      const rope = new Rope(ggmlOptions(f));

      it('matches output_exact', () => {
        expect(run(rope, f)).toBeLessThanOrEqual(1e-6 * maxAbs(f.output_exact));
      });

      it("attentionScaling equals ggml's internal YaRN mscale", () => {
        expect(printedDiff(rope.attentionScaling, f.ggml_internal_mscale ?? 1)).toBeLessThanOrEqual(0.5);
      });

      it("differs from ggml's own float32 output (output) by the documented max_abs_diff_ggml_vs_exact", () => {
        // (as for transformers above: ours is output_exact within tol)
        const tol = 1e-6 * maxAbs(f.output_exact);
        const d = maxAbsDiff(rotated(rope, f), f.output);
        expect(d).toBeLessThanOrEqual(f.max_abs_diff_ggml_vs_exact * 1.05 + tol + ULP_SLACK);
        expect(d).toBeGreaterThanOrEqual(f.max_abs_diff_ggml_vs_exact * 0.95 - tol - ULP_SLACK);
        report.push(`ggml ${f.name.padEnd(18)} ours vs ggml f32 ${d.toExponential(2)}  ours vs exact ${run(rope, f).toExponential(2)}`);
      });
    });
  }

  it('compares every vector (ROPE_SIMD_VERBOSE=1 prints the table)', () => {
    expect(report.length).toBe(hfFixtures().length + ggmlFixtures().length);
    // (not printed by default: it lands in the middle of the test runner's progress output)
    if (process.env.ROPE_SIMD_VERBOSE === '1') console.log(`max abs differences (backend ${backendInfo.backend}):\n${report.join('\n')}`);
  });
});

// Cases without a vector file, against a plain float64 rotation written here.
describe('M-RoPE layouts and explicit seqLen, against a float64 reference', () => {
  function reference(x: Float32Array, headDim: number, invFreq: number[], rowOf: (j: number) => number, pos: number[]): number[] {
    const out = Array.from(x);
    const half = invFreq.length;
    for (let j = 0; j < half; j++) {
      const angle = pos[rowOf(j)] * invFreq[j];
      const [a, b] = [j, j + half];
      out[a] = x[a] * Math.cos(angle) - x[b] * Math.sin(angle);
      out[b] = x[b] * Math.cos(angle) + x[a] * Math.sin(angle);
    }
    void headDim;
    return out;
  }
  const inv = (d: number, base = 10000) => Array.from({ length: d / 2 }, (_, j) => Math.pow(base, (-2 * j) / d));

  it('interleaved sections [4, 3, 3] (IMROPE: t h w t h w ...)', () => {
    const rope = new Rope({ headDim: 20, mropeSection: [4, 3, 3], mropeInterleaved: true });
    const x = Float32Array.from({ length: 20 }, (_, i) => Math.sin(i + 0.5));
    const pos = [7, 300, 4000];
    // llama.cpp's rule for sections [4,3,3]: pair j -> h if j%3==1 && j<9, w if j%3==2 && j<9, else t
    const want = reference(x, 20, inv(20), (j) => (j % 3 === 1 && j < 9 ? 1 : j % 3 === 2 && j < 9 ? 2 : 0), pos);
    rope.apply(x, { heads: 1, positions: pos });
    expect(maxAbsDiff(x, want)).toBeLessThanOrEqual(1e-6);
  });

  it('two sections (2-D vision RoPE), blocks', () => {
    const rope = new Rope({ headDim: 16, mropeSection: [4, 4] });
    const x = Float32Array.from({ length: 32 }, (_, i) => Math.cos(i * 0.3));
    // two tokens: rows are [h0, h1] then [w0, w1]
    rope.apply(x, { heads: 1, positions: [3, 5, 11, 13] });
    const first = reference(Float32Array.from({ length: 16 }, (_, i) => Math.cos(i * 0.3)), 16, inv(16), (j) => (j < 4 ? 0 : 1), [3, 11]);
    const second = reference(Float32Array.from({ length: 16 }, (_, i) => Math.cos((16 + i) * 0.3)), 16, inv(16), (j) => (j < 4 ? 0 : 1), [5, 13]);
    expect(maxAbsDiff(x, [...first, ...second])).toBeLessThanOrEqual(1e-6);
  });

  it('dynamic NTK honours an explicit seqLen', () => {
    const rope = new Rope({ headDim: 16, scaling: { type: 'dynamic', factor: 2, originalMaxPositions: 64 } });
    const x = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i));
    const ntkBase = 10000 * Math.pow((2 * 1000) / 64 - 1, 16 / 14);
    const want = reference(x, 16, inv(16, ntkBase), () => 0, [10]);
    rope.apply(x, { heads: 1, positions: [10], seqLen: 1000 });
    expect(maxAbsDiff(x, want)).toBeLessThanOrEqual(1e-6);
  });
});
