// Rope's constructor options: each checked with a message naming it, and the frequencies they
// derive checked too (an option can pass its own check and still break them).
import { MAX_HEAD_DIM, MAX_INV_FREQ, MAX_ROTARY_DIM } from './limits.js';
import { checkKnownKeys, ROPE_KEYS } from './options.js';
import { pairSections, resolveScaling, type ResolvedScaling } from './scaling.js';
import type { RopeOptions, RopeStyle } from './types.js';
import { checkPositiveInt, describe } from './validate.js';


function checkNumber(name: string, v: unknown): number {
  if (v === undefined) throw new TypeError(`${name} is required: the size of one attention head, an even number (e.g. 128)`);
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  return v;
}

function checkEvenDim(name: string, v: unknown, max: number, maxName: string): number {
  const n = checkNumber(name, v);
  if (!Number.isInteger(n) || n < 2 || n % 2 !== 0) throw new RangeError(`${name} must be an even integer >= 2, got ${describe(n)}`);
  if (n > max) throw new RangeError(`${name} ${n} is greater than ${maxName} = ${max}`);
  return n;
}

/**
 * The frequencies the options derive must be finite and > 0 (and attentionScaling finite): an
 * option can pass its own check and still break them (base 1e-300 overflows base^(-2j/d); a
 * scaling factor of 1e-320 divides to Infinity). Refused here, naming the option, instead of an
 * engine failing later about an invFreq the user never passed (native) or writing NaN (JS).
 */

function checkFrequencies(f: { invFreq: Float64Array; attentionScaling: number }, base: number, rotaryDim: number, scaling: unknown): void {
  const inv = f.invFreq;
  // 'proportional' (Gemma 4) gives the pairs past its rotated fraction frequency 0 by design: an
  // exact identity rotation (cos 1, sin 0) on every engine. Elsewhere a 0 is an underflow: refused.
  const zeroOk = typeof scaling === 'object' && scaling !== null && (scaling as { type?: unknown }).type === 'proportional';
  let bad = -1;
  for (let j = 0; j < inv.length; j++) {
    if (!((inv[j] > 0 || (zeroOk && inv[j] === 0)) && inv[j] < MAX_INV_FREQ)) {
      bad = j;
      break;
    }
  }
  const scaled = scaling !== undefined && scaling !== null;
  if (bad >= 0) {
    const plain = base ** (-(2 * bad) / rotaryDim);
    const cause = !scaled || !(plain > 0 && plain < MAX_INV_FREQ) ? `base ${describe(base)}` : `scaling ${describeScaling(scaling)}`;
    throw new RangeError(
      `${cause} makes invFreq[${bad}] = ${describe(inv[bad])}: the rotation frequencies must be > 0 and below 2^21 (check ${cause.split(' ')[0]})`,
    );
  }
  if (!Number.isFinite(f.attentionScaling)) {
    throw new RangeError(
      `scaling ${describeScaling(scaling)} makes attentionScaling = ${describe(f.attentionScaling)}: it must be finite (check scaling)`,
    );
  }
}

function describeScaling(s: unknown): string {
  if (typeof s !== 'object' || s === null) return describe(s);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === 'number' || typeof v === 'string') parts.push(`${k}: ${typeof v === 'string' ? `'${v}'` : describe(v)}`);
    else if (Array.isArray(v)) parts.push(`${k}: [${v.length} values]`);
  }
  return `{ ${parts.join(', ')} }`;
}


export interface CheckedRopeOptions {
  headDim: number;
  rotaryDim: number;
  base: number;
  style: RopeStyle;
  scaling: ResolvedScaling;
  pairSection: Uint8Array | null;
  rotaryOffset: number;
}

/** Rope's options, checked; throws naming the first bad one. */
export function checkRopeOptions(options: RopeOptions): CheckedRopeOptions {
    checkKnownKeys(options, ROPE_KEYS, 'new Rope');
    const headDim = checkEvenDim('headDim', options.headDim, MAX_HEAD_DIM, 'the largest supported headDim');
    const rotaryDim =
      options.rotaryDim === undefined ? headDim : checkEvenDim('rotaryDim', options.rotaryDim, headDim, 'headDim');
    if (rotaryDim > MAX_ROTARY_DIM) throw new RangeError(`rotaryDim ${rotaryDim} is greater than the largest supported, ${MAX_ROTARY_DIM}`);
    const base = options.base === undefined ? 10000 : checkNumber('base', options.base);
    if (!Number.isFinite(base) || base <= 0) throw new RangeError(`base must be a finite number > 0, got ${describe(base)}`);
    const style = options.style ?? 'half';
    if (style !== 'half' && style !== 'interleaved') {
      throw new TypeError(`style must be 'half' or 'interleaved', got ${describe(style)}`);
    }
    if (options.maxPositions !== undefined) checkPositiveInt('maxPositions', options.maxPositions);
    const scaling = resolveScaling({ ...options, rotaryDim, base });
    checkFrequencies(scaling.base, base, rotaryDim, options.scaling);
    const pairSection = pairSections(rotaryDim, options.mropeSection, options.mropeInterleaved);
    const slice = options.rotarySlice === undefined ? 'leading' : options.rotarySlice;
    if (slice !== 'leading' && slice !== 'trailing') {
      throw new TypeError(`rotarySlice must be 'leading' or 'trailing', got ${describe(slice)}`);
    }
    const rotaryOffset = slice === 'trailing' ? headDim - rotaryDim : 0;
  return { headDim, rotaryDim, base, style, scaling, pairSection, rotaryOffset };
}
