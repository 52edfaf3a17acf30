// Loads the conformance vectors and maps each one onto rope-simd's own option names, written out
// per case from the fixture's fields (not derived by lib/models/, which is tested against them).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RopeOptions, ScalingOptions } from '../../lib/types.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export interface HfFixture {
  name: string;
  style: 'half' | 'interleaved';
  config: Record<string, unknown>;
  headDim: number;
  rotaryDim: number;
  heads: number;
  tokens: number;
  positions: number[] | number[][];
  seq_len_used?: number;
  mrope_section?: number[];
  inv_freq_exact_f64: number[];
  attention_scaling: number;
  input: number[];
  output_exact: number[];
  output_hf_f32: number[];
  max_abs_diff_hf_f32_vs_f64: number;
}

export interface GgmlFixture {
  name: string;
  style: 'half' | 'interleaved';
  headDim: number;
  rotaryDim: number;
  heads: number;
  tokens: number;
  positions: number[];
  freq_base: number;
  freq_scale: number;
  ext_factor: number;
  attn_factor: number;
  beta_fast: number;
  beta_slow: number;
  n_ctx_orig: number;
  ggml_mode: number;
  ggml_internal_mscale?: number;
  input: number[];
  output: number[];
  output_exact: number[];
  max_abs_diff_ggml_vs_exact: number;
}

function load<T>(dir: string): T[] {
  const d = join(FIXTURES, dir);
  return readdirSync(d)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(d, f), 'utf8')) as T);
}

export const hfFixtures = (): HfFixture[] => load<HfFixture>('hf');
export const ggmlFixtures = (): GgmlFixture[] => load<GgmlFixture>('ggml');

/** The scaling of each hf case, in our option names (see each fixture's config and notes). */
function hfScaling(f: HfFixture): ScalingOptions | undefined {
  const rs = f.config.rope_scaling as Record<string, unknown> | null;
  switch (f.name) {
    case 'linear':
      return { type: 'linear', factor: 4 };
    case 'dynamic':
      return { type: 'dynamic', factor: 2, originalMaxPositions: 4096 };
    case 'yarn':
      return { type: 'yarn', factor: 8, originalMaxPositions: 4096 };
    case 'llama3':
      return { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 };
    case 'longrope':
      return {
        type: 'longrope',
        shortFactor: rs!.short_factor as number[],
        longFactor: rs!.long_factor as number[],
        originalMaxPositions: 4096,
        maxPositions: 131072,
      };
    default:
      return undefined;
  }
}

const BASES: Record<string, number> = {
  default_llama2: 10000,
  default_llama3_8b: 500000,
  dynamic: 10000,
  interleaved_basic: 10000,
  linear: 10000,
  llama3: 500000,
  longpos: 500000,
  longrope: 10000,
  mrope_qwen2vl: 1000000,
  partial: 10000,
  yarn: 10000,
};

export function hfOptions(f: HfFixture): RopeOptions {
  const base = BASES[f.name];
  if (base === undefined) throw new Error(`no option mapping written for hf fixture ${f.name}`);
  const o: RopeOptions = { headDim: f.headDim, rotaryDim: f.rotaryDim, base, style: f.style };
  const scaling = hfScaling(f);
  if (scaling) o.scaling = scaling;
  if (f.mrope_section) o.mropeSection = f.mrope_section;
  return o;
}

/** ggml's parameters in our names: linear = factor 1/freq_scale; ext_factor 1 = YaRN over n_ctx_orig. */
export function ggmlOptions(f: GgmlFixture): RopeOptions {
  const style = f.ggml_mode === 2 ? 'half' : f.ggml_mode === 0 ? 'interleaved' : undefined;
  if (style === undefined || style !== f.style) throw new Error(`${f.name}: ggml_mode ${f.ggml_mode} vs style ${f.style}`);
  const o: RopeOptions = { headDim: f.headDim, rotaryDim: f.rotaryDim, base: f.freq_base, style };
  if (f.ext_factor === 1) {
    o.scaling = {
      type: 'yarn',
      factor: 1 / f.freq_scale,
      originalMaxPositions: f.n_ctx_orig,
      betaFast: f.beta_fast,
      betaSlow: f.beta_slow,
    };
  } else if (f.ext_factor === 0 && f.freq_scale !== 1) {
    o.scaling = { type: 'linear', factor: 1 / f.freq_scale };
  } else if (f.ext_factor !== 0) {
    throw new Error(`${f.name}: ext_factor ${f.ext_factor} has no mapping`);
  }
  return o;
}

/** Distance in units in the last place of b (float64). */
export function ulpDiff(a: number, b: number): number {
  if (a === b) return 0;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, b);
  const bits = buf.getBigUint64(0);
  buf.setBigUint64(0, bits + 1n);
  const ulp = Math.abs(buf.getFloat64(0) - b);
  return Math.abs(a - b) / ulp;
}

/** |a - b| in units of the 9th significant digit of b (the vectors' printed precision); <= 0.5
 * (plus float slack) means a rounds to b. */
export function printedDiff(a: number, b: number): number {
  if (a === b) return 0;
  const unit = Math.pow(10, Math.floor(Math.log10(Math.abs(b))) - 8);
  return Math.abs(a - b) / unit - 1e-6;
}

/** The sequence length a call with these positions has (max position + 1, all rows). */
export function seqLenOf(f: HfFixture): number {
  const flat = (f.positions as (number | number[])[]).flat();
  return Math.max(...flat) + 1;
}
