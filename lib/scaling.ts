// rope_type -> invFreq (float64) + attentionScaling, with Hugging Face transformers' semantics
// (modeling_rope_utils.py, _compute_*_parameters), computed in float64 throughout. Only invFreq,
// attentionScaling and pairSection ever reach an engine: the native side knows no rope_type.
import { checkKnownKeys, SCALING_KEYS } from './options.js';
import type { RopeOptions, ScalingOptions } from './types.js';

export interface Frequencies {
  invFreq: Float64Array;
  attentionScaling: number;
}

export interface ResolvedScaling {
  /** The frequencies used when the call's sequence length does not change them. */
  base: Frequencies;
  /** True for sequence-length-dependent types (dynamic, longrope). */
  dependsOnSeqLen: boolean;
  /** Frequencies for a call whose sequence length is seqLen (memoized; returns base when unchanged). */
  forSeqLen(seqLen: number): Frequencies;
}

export const SCALING_TYPES = ['default', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope', 'proportional', 'freqFactors'] as const;

/** invFreq_j = base^(-2j/rotaryDim), float64. */
export function defaultInvFreq(base: number, rotaryDim: number): Float64Array {
  const half = rotaryDim / 2;
  const out = new Float64Array(half);
  for (let j = 0; j < half; j++) out[j] = 1 / Math.pow(base, (2 * j) / rotaryDim);
  return out;
}

// ---- parameter checks: every message names the parameter, what was expected and what came ----

/** A value as an error message shows it (also used by config.ts). */
export function show(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

function num(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${show(v)}`);
  if (!Number.isFinite(v)) throw new RangeError(`${name} must be finite, got ${v}`);
  return v;
}

function positive(name: string, v: unknown): number {
  const x = num(name, v);
  if (!(x > 0)) throw new RangeError(`${name} must be > 0, got ${x}`);
  return x;
}

function positiveInt(name: string, v: unknown): number {
  const x = num(name, v);
  if (!Number.isSafeInteger(x) || x <= 0) throw new RangeError(`${name} must be a positive integer, got ${x}`);
  return x;
}

function optionalPositive(name: string, v: unknown): number | undefined {
  return v === undefined ? undefined : positive(name, v);
}

function required(name: string, v: unknown, type: string): unknown {
  if (v === undefined) throw new TypeError(`${name} is required for scaling.type '${type}', got undefined`);
  return v;
}

function factorList(name: string, v: unknown, half: number): Float64Array {
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) {
    throw new TypeError(`${name} must be an array of ${half} numbers (rotaryDim/2), got ${show(v)}`);
  }
  const list = v as ArrayLike<unknown>;
  if (list.length !== half) {
    throw new RangeError(`${name}.length must be rotaryDim/2 = ${half}, got ${list.length}`);
  }
  const out = new Float64Array(half);
  for (let j = 0; j < half; j++) out[j] = positive(`${name}[${j}]`, list[j]);
  return out;
}

// ---- the init functions, one per rope_type ----

function fixed(f: Frequencies): ResolvedScaling {
  return { base: f, dependsOnSeqLen: false, forSeqLen: () => f };
}

/** get_mscale of transformers' YaRN (and DeepSeek's yarn_get_mscale). */
function getMscale(scale: number, mscale = 1): number {
  if (scale <= 1) return 1;
  return 0.1 * mscale * Math.log(scale) + 1;
}

function yarn(s: Extract<ScalingOptions, { type: 'yarn' }>, base: number, dim: number): Frequencies {
  const factor = positive('scaling.factor', required('scaling.factor', s.factor, 'yarn'));
  const orig = positive(
    'scaling.originalMaxPositions',
    required('scaling.originalMaxPositions', s.originalMaxPositions, 'yarn'),
  );
  const betaFast = optionalPositive('scaling.betaFast', s.betaFast) ?? 32;
  const betaSlow = optionalPositive('scaling.betaSlow', s.betaSlow) ?? 1;
  const mscale = s.mscale === undefined ? undefined : num('scaling.mscale', s.mscale);
  const mscaleAllDim = s.mscaleAllDim === undefined ? undefined : num('scaling.mscaleAllDim', s.mscaleAllDim);
  if (s.truncate !== undefined && typeof s.truncate !== 'boolean') {
    throw new TypeError(`scaling.truncate must be a boolean, got ${show(s.truncate)}`);
  }
  const truncate = s.truncate ?? true;

  // transformers: `if mscale and mscale_all_dim` (Python truthiness: 0 counts as absent).
  let attentionScaling: number;
  if (s.attentionFactor !== undefined) attentionScaling = positive('scaling.attentionFactor', s.attentionFactor);
  else if (mscale && mscaleAllDim) attentionScaling = getMscale(factor, mscale) / getMscale(factor, mscaleAllDim);
  else attentionScaling = getMscale(factor);

  // Inverse dimension formula: the dimension whose wavelength fits numRotations times into orig.
  const correctionDim = (numRotations: number): number =>
    (dim * Math.log(orig / (numRotations * 2 * Math.PI))) / (2 * Math.log(base));
  let low = correctionDim(betaFast);
  let high = correctionDim(betaSlow);
  if (truncate) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001; // transformers: prevent singularity

  const half = dim / 2;
  const invFreq = new Float64Array(half);
  for (let j = 0; j < half; j++) {
    const posFreq = Math.pow(base, (2 * j) / dim);
    const extrapolation = 1 / posFreq;
    const interpolation = 1 / (factor * posFreq);
    const ramp = Math.min(Math.max((j - low) / (high - low), 0), 1);
    const extrapolationFactor = 1 - ramp;
    invFreq[j] = interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor;
  }
  return { invFreq, attentionScaling };
}

function llama3(s: Extract<ScalingOptions, { type: 'llama3' }>, base: number, dim: number): Frequencies {
  const factor = positive('scaling.factor', required('scaling.factor', s.factor, 'llama3'));
  const low = positive('scaling.lowFreqFactor', required('scaling.lowFreqFactor', s.lowFreqFactor, 'llama3'));
  const high = positive('scaling.highFreqFactor', required('scaling.highFreqFactor', s.highFreqFactor, 'llama3'));
  const orig = positive(
    'scaling.originalMaxPositions',
    required('scaling.originalMaxPositions', s.originalMaxPositions, 'llama3'),
  );
  // transformers accepts low == high (Llama 4 Scout): the medium band is then empty.
  if (!(low <= high)) {
    throw new RangeError(`scaling.lowFreqFactor must be <= scaling.highFreqFactor, got ${low} > ${high}`);
  }
  const lowFreqWavelen = orig / low;
  const highFreqWavelen = orig / high;
  const invFreq = defaultInvFreq(base, dim);
  for (let j = 0; j < invFreq.length; j++) {
    const inv = invFreq[j];
    const wavelen = (2 * Math.PI) / inv;
    if (wavelen > lowFreqWavelen) invFreq[j] = inv / factor; // long wavelengths: interpolate fully
    else if (!(wavelen < highFreqWavelen) && low < high) {
      // medium band: blend between interpolation and the original frequency
      const smooth = (orig / wavelen - low) / (high - low);
      invFreq[j] = ((1 - smooth) * inv) / factor + smooth * inv;
    }
  }
  return { invFreq, attentionScaling: 1 };
}

function dynamic(s: Extract<ScalingOptions, { type: 'dynamic' }>, base: number, dim: number): ResolvedScaling {
  const factor = positive('scaling.factor', required('scaling.factor', s.factor, 'dynamic'));
  // A position count (seqLen is compared with it): an integer, as transformers' config holds it.
  const orig = positiveInt(
    'scaling.originalMaxPositions',
    required('scaling.originalMaxPositions', s.originalMaxPositions, 'dynamic'),
  );
  // transformers: seq_len = max(seq_len, max_position_embeddings); the NTK base grows past it.
  const at = (seqLen: number): Frequencies => {
    const ntkBase = base * Math.pow((factor * seqLen) / orig - (factor - 1), dim / (dim - 2));
    return { invFreq: defaultInvFreq(ntkBase, dim), attentionScaling: 1 };
  };
  const initial = at(orig);
  let lastSeqLen = -1;
  let last = initial;
  return {
    base: initial,
    dependsOnSeqLen: true,
    forSeqLen(seqLen: number): Frequencies {
      if (seqLen <= orig) return initial;
      if (seqLen !== lastSeqLen) {
        last = at(seqLen);
        lastSeqLen = seqLen;
      }
      return last;
    },
  };
}

function longrope(
  s: Extract<ScalingOptions, { type: 'longrope' }>,
  base: number,
  dim: number,
  maxPositions: number | undefined,
): ResolvedScaling {
  const half = dim / 2;
  const shortFactor = factorList('scaling.shortFactor', required('scaling.shortFactor', s.shortFactor, 'longrope'), half);
  const longFactor = factorList('scaling.longFactor', required('scaling.longFactor', s.longFactor, 'longrope'), half);
  const orig = positive(
    'scaling.originalMaxPositions',
    required('scaling.originalMaxPositions', s.originalMaxPositions, 'longrope'),
  );
  let attentionScaling: number;
  if (s.attentionFactor !== undefined) attentionScaling = positive('scaling.attentionFactor', s.attentionFactor);
  else {
    // transformers: factor, else max_position_embeddings / original_max_position_embeddings.
    let factor = optionalPositive('scaling.factor', s.factor);
    if (factor === undefined) {
      const max = optionalPositive('scaling.maxPositions', s.maxPositions ?? maxPositions);
      if (max === undefined) {
        throw new TypeError(
          "scaling.type 'longrope' needs scaling.attentionFactor, scaling.factor or maxPositions " +
            '(max_position_embeddings) to derive the attention factor, got none of them',
        );
      }
      factor = max / orig;
    }
    attentionScaling = factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(orig));
  }
  // Phi-3.5-MoE: cos/sin scaled by short/long mscale instead of the attention factor.
  const shortMscale = s.shortMscale === undefined ? attentionScaling : positive('scaling.shortMscale', s.shortMscale);
  const longMscale = s.longMscale === undefined ? attentionScaling : positive('scaling.longMscale', s.longMscale);
  const withFactors = (ext: Float64Array, scale: number): Frequencies => {
    const invFreq = new Float64Array(half);
    for (let j = 0; j < half; j++) invFreq[j] = 1 / (ext[j] * Math.pow(base, (2 * j) / dim));
    return { invFreq, attentionScaling: scale };
  };
  const short = withFactors(shortFactor, shortMscale);
  let long: Frequencies | null = null; // built on the first long call, then reused
  return {
    base: short,
    dependsOnSeqLen: true,
    forSeqLen(seqLen: number): Frequencies {
      if (seqLen > orig) return (long ??= withFactors(longFactor, longMscale));
      return short;
    },
  };
}

/** Options are already checked for headDim/rotaryDim/base by the caller; throws on bad scaling. */
export function resolveScaling(opts: Required<Pick<RopeOptions, 'rotaryDim' | 'base'>> & RopeOptions): ResolvedScaling {
  const { base, rotaryDim: dim } = opts;
  const s = opts.scaling;
  if (s === undefined || s === null) return fixed({ invFreq: defaultInvFreq(base, dim), attentionScaling: 1 });
  if (typeof s !== 'object') throw new TypeError(`scaling must be an object with a type, got ${show(s)}`);
  const type = (s as { type?: unknown }).type;
  if (typeof type === 'string' && Object.hasOwn(SCALING_KEYS, type)) checkKnownKeys(s, SCALING_KEYS[type], `scaling { type: '${type}' }`);
  switch (type) {
    case 'default':
      return fixed({ invFreq: defaultInvFreq(base, dim), attentionScaling: 1 });
    case 'linear': {
      const f = s as Extract<ScalingOptions, { type: 'linear' }>;
      const factor = positive('scaling.factor', required('scaling.factor', f.factor, 'linear'));
      const invFreq = defaultInvFreq(base, dim);
      for (let j = 0; j < invFreq.length; j++) invFreq[j] /= factor;
      return fixed({ invFreq, attentionScaling: 1 });
    }
    case 'dynamic':
      return dynamic(s as Extract<ScalingOptions, { type: 'dynamic' }>, base, dim);
    case 'yarn':
      return fixed(yarn(s as Extract<ScalingOptions, { type: 'yarn' }>, base, dim));
    case 'llama3':
      return fixed(llama3(s as Extract<ScalingOptions, { type: 'llama3' }>, base, dim));
    case 'longrope':
      return longrope(s as Extract<ScalingOptions, { type: 'longrope' }>, base, dim, opts.maxPositions);
    case 'proportional': {
      // transformers' _compute_proportional_rope_parameters: rope_angles = int(fraction * dim // 2)
      // pairs at base^(-2j/dim), the rest 0 (no rotation), all divided by factor.
      const p = s as Extract<ScalingOptions, { type: 'proportional' }>;
      const factor = optionalPositive('scaling.factor', p.factor) ?? 1;
      const fraction = p.rotaryFraction === undefined ? 1 : num('scaling.rotaryFraction', p.rotaryFraction);
      if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`scaling.rotaryFraction must be in [0, 1], got ${fraction}`);
      const angles = Math.floor((fraction * dim) / 2);
      const invFreq = new Float64Array(dim / 2);
      for (let j = 0; j < angles; j++) invFreq[j] = 1 / Math.pow(base, (2 * j) / dim) / factor;
      return fixed({ invFreq, attentionScaling: 1 });
    }
    case 'freqFactors': {
      // llama.cpp's rope_freqs / freq_factors tensor: theta_j = position * base^(-2j/n) / factors[j].
      const f = s as Extract<ScalingOptions, { type: 'freqFactors' }>;
      const factors = factorList('scaling.factors', required('scaling.factors', f.factors, 'freqFactors'), dim / 2);
      const invFreq = defaultInvFreq(base, dim);
      for (let j = 0; j < invFreq.length; j++) invFreq[j] /= factors[j];
      return fixed({ invFreq, attentionScaling: 1 });
    }
    default:
      throw new TypeError(`scaling.type must be one of ${SCALING_TYPES.map((t) => `'${t}'`).join(', ')}, got ${show(type)}`);
  }
}

/**
 * pairSection[j] = the positions row that pair j reads, for M-RoPE; null without sections.
 * Blocks (Qwen2-VL): pairs [0, s0) read row 0, [s0, s0+s1) row 1, ... Interleaved (Qwen3-VL) with
 * 2 or 3 sections, as transformers' apply_interleaved_mrope: pair j reads row r >= 1 when j % n == r
 * and j < n*s_r, and row 0 otherwise. With 4 sections [t, h, w, e], llama.cpp's layout (ggml
 * rope_multi, IMROPE): pair j reads row j % 3 when j < 3*s_(j%3), else row 3, a fourth positions row
 * that llama.cpp fills with 0 for text tokens (llm_graph_input_pos::set_input); so those leftover
 * pairs rotate by position 0 in llama.cpp and by the text position in transformers. 'hw' (Ernie 4.5
 * VL, sections [h, w, t]): the first h + w pairs alternate rows 1 and 2, the rest read row 0.
 */
export function pairSections(rotaryDim: number, mropeSection?: number[], interleaved?: boolean | 'hw'): Uint8Array | null {
  if (mropeSection === undefined || mropeSection === null) {
    if (interleaved) throw new TypeError('mropeInterleaved needs mropeSection, got mropeSection undefined');
    return null;
  }
  if (!Array.isArray(mropeSection)) {
    throw new TypeError(`mropeSection must be an array of 2 to 4 section sizes, got ${show(mropeSection)}`);
  }
  const n = mropeSection.length;
  if (n < 2 || n > 4) throw new RangeError(`mropeSection must have 2 to 4 sections, got ${n}`);
  let sum = 0;
  for (let r = 0; r < n; r++) {
    const v = num(`mropeSection[${r}]`, mropeSection[r]);
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`mropeSection[${r}] must be a non-negative integer, got ${v}`);
    sum += v;
  }
  const half = rotaryDim / 2;
  if (sum !== half) {
    throw new RangeError(`mropeSection [${mropeSection.join(', ')}] must sum to rotaryDim/2 = ${half}, got ${sum}`);
  }
  if (interleaved !== undefined && typeof interleaved !== 'boolean' && interleaved !== 'hw') {
    throw new TypeError(`mropeInterleaved must be a boolean or 'hw', got ${show(interleaved)}`);
  }
  const out = new Uint8Array(half);
  if (interleaved === 'hw') {
    // Ernie 4.5 VL: pairs alternate height, width (rows 1, 2) over the first s1 + s2 pairs, then the
    // temporal row 0; sections [s1, s2, s0] as its mrope_section gives them, s1 == s2
    if (n !== 3 || mropeSection[0] !== mropeSection[1]) {
      throw new RangeError(`mropeInterleaved 'hw' needs 3 sections [h, w, t] with h == w, got [${mropeSection.join(', ')}]`);
    }
    const hw = mropeSection[0] + mropeSection[1];
    for (let j = 0; j < half; j++) out[j] = j < hw ? 1 + (j % 2) : 0;
  } else if (interleaved && n === 4) {
    for (let j = 0; j < half; j++) {
      const r = j % 3;
      out[j] = j < 3 * mropeSection[r] ? r : 3;
    }
  } else if (interleaved) {
    for (let j = 0; j < half; j++) {
      const r = j % n;
      out[j] = r !== 0 && j < n * mropeSection[r] ? r : 0;
    }
  } else {
    let j = 0;
    for (let r = 0; r < n; r++) for (let k = 0; k < mropeSection[r]; k++) out[j++] = r;
  }
  return out;
}
