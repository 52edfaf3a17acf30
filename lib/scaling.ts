// rope_type -> invFreq (float64) + attentionScaling, with Hugging Face transformers' semantics.
// STUB (default only) until the scaling issue fills it in; the exported shapes are the contract.
import type { RopeOptions } from './types.js';

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

/** invFreq_j = base^(-2j/rotaryDim), float64. */
export function defaultInvFreq(base: number, rotaryDim: number): Float64Array {
  const half = rotaryDim / 2;
  const out = new Float64Array(half);
  for (let j = 0; j < half; j++) out[j] = 1 / Math.pow(base, (2 * j) / rotaryDim);
  return out;
}

/** Options are already checked for headDim/rotaryDim/base by the caller; throws on bad scaling. */
export function resolveScaling(opts: Required<Pick<RopeOptions, 'rotaryDim' | 'base'>> & RopeOptions): ResolvedScaling {
  const s = opts.scaling;
  if (s !== undefined && s.type !== 'default') {
    throw new TypeError(`scaling.type '${String((s as { type: unknown }).type)}' is not supported yet`);
  }
  const base: Frequencies = { invFreq: defaultInvFreq(opts.base, opts.rotaryDim), attentionScaling: 1 };
  return { base, dependsOnSeqLen: false, forSeqLen: () => base };
}

/** pairSection[j] = positions row of pair j for M-RoPE; null without sections. */
export function pairSections(rotaryDim: number, mropeSection?: number[], interleaved?: boolean): Uint8Array | null {
  if (!mropeSection) return null;
  void rotaryDim;
  void interleaved;
  throw new TypeError('mropeSection is not supported yet');
}
