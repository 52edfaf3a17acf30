// lib/scaling.ts on its own: invFreq and attentionScaling against the transformers vectors, the
// per-type rules against plainly written float64 formulas, M-RoPE pair sections, and the errors.
import { describe, expect, it } from 'vitest';
import { defaultInvFreq, pairSections, resolveScaling } from '../../lib/scaling.js';
import type { RopeOptions, ScalingOptions } from '../../lib/types.js';
import { hfFixtures, hfOptions, printedDiff, seqLenOf, ulpDiff } from '../helpers/fixtures.js';

function resolve(o: RopeOptions) {
  return resolveScaling({ ...o, rotaryDim: o.rotaryDim ?? o.headDim, base: o.base ?? 10000 });
}

describe('invFreq and attentionScaling match transformers (hf fixtures)', () => {
  for (const f of hfFixtures()) {
    it(f.name, () => {
      const r = resolve(hfOptions(f));
      // transformers picks frequencies for seq_len = max position + 1 (dynamic, longrope).
      const freqs = r.forSeqLen(f.seq_len_used ?? seqLenOf(f));
      expect(freqs.invFreq.length).toBe(f.inv_freq_exact_f64.length);
      // The vectors print inv_freq_exact_f64 to 9 significant digits: ours must round to them.
      let worst = 0;
      for (let j = 0; j < freqs.invFreq.length; j++) worst = Math.max(worst, printedDiff(freqs.invFreq[j], f.inv_freq_exact_f64[j]));
      expect(worst).toBeLessThanOrEqual(0.5);
      // attention_scaling is printed to 9 significant digits
      expect(Math.abs(freqs.attentionScaling - f.attention_scaling)).toBeLessThanOrEqual(1e-8 * f.attention_scaling);
      expect(r.dependsOnSeqLen).toBe(f.name === 'dynamic' || f.name === 'longrope');
    });
  }
});

describe('per-type rules', () => {
  it('default: invFreq[0] = 1 and invFreq[j] = base^(-2j/d)', () => {
    const inv = defaultInvFreq(500000, 128);
    expect(inv[0]).toBe(1);
    expect(ulpDiff(inv[63], Math.exp((-126 / 128) * Math.log(500000)))).toBeLessThanOrEqual(4);
  });

  it('linear divides every frequency by the factor', () => {
    const r = resolve({ headDim: 64, scaling: { type: 'linear', factor: 4 } });
    const d = defaultInvFreq(10000, 64);
    for (let j = 0; j < 32; j++) expect(r.base.invFreq[j]).toBe(d[j] / 4);
    expect(r.dependsOnSeqLen).toBe(false);
  });

  it('dynamic: default up to originalMaxPositions, NTK base past it, memoized', () => {
    const r = resolve({ headDim: 64, scaling: { type: 'dynamic', factor: 2, originalMaxPositions: 4096 } });
    const d = defaultInvFreq(10000, 64);
    expect(Array.from(r.forSeqLen(100).invFreq)).toEqual(Array.from(d));
    expect(r.forSeqLen(4096)).toBe(r.base);
    const a = r.forSeqLen(8192);
    expect(r.forSeqLen(8192)).toBe(a); // decode calls at one length do not recompute
    // base' = base * (2*8192/4096 - 1)^(64/62) = base * 3^(32/31)
    const b = 10000 * Math.pow(3, 64 / 62);
    expect(ulpDiff(a.invFreq[31], 1 / Math.pow(b, 62 / 64))).toBeLessThanOrEqual(2);
    expect(a.invFreq[0]).toBe(1);
  });

  it('longrope: short factors up to originalMaxPositions, long past it; Phi-3 attention factor', () => {
    const short = Array.from({ length: 48 }, (_, j) => 1 + j / 100);
    const long = Array.from({ length: 48 }, (_, j) => 2 + j);
    const s: ScalingOptions = { type: 'longrope', shortFactor: short, longFactor: long, originalMaxPositions: 4096 };
    const r = resolve({ headDim: 96, maxPositions: 131072, scaling: s });
    expect(r.forSeqLen(4096).invFreq[5]).toBe(1 / (short[5] * Math.pow(10000, 10 / 96)));
    expect(r.forSeqLen(4097).invFreq[5]).toBe(1 / (long[5] * Math.pow(10000, 10 / 96)));
    expect(r.forSeqLen(9000)).toBe(r.forSeqLen(5000));
    expect(r.base.attentionScaling).toBeCloseTo(Math.sqrt(1 + Math.log(32) / Math.log(4096)), 15);
    const given = resolve({ headDim: 96, scaling: { ...s, attentionFactor: 1.5 } });
    expect(given.base.attentionScaling).toBe(1.5);
    const noScale = resolve({ headDim: 96, scaling: { ...s, factor: 1 } });
    expect(noScale.base.attentionScaling).toBe(1);
  });

  it('llama3: high frequencies kept, low divided by factor, medium blended', () => {
    const r = resolve({
      headDim: 128,
      base: 500000,
      scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 },
    });
    const d = defaultInvFreq(500000, 128);
    for (let j = 0; j < 64; j++) {
      const wavelen = (2 * Math.PI) / d[j];
      if (wavelen < 8192 / 4) expect(r.base.invFreq[j]).toBe(d[j]);
      else if (wavelen > 8192) expect(r.base.invFreq[j]).toBe(d[j] / 8);
      else {
        const smooth = (8192 / wavelen - 1) / 3;
        expect(r.base.invFreq[j]).toBeCloseTo((1 - smooth) * (d[j] / 8) + smooth * d[j], 15);
      }
    }
  });

  it('llama3 with lowFreqFactor == highFreqFactor (Llama 4 Scout): no medium band', () => {
    const r = resolve({
      headDim: 128,
      base: 500000,
      scaling: { type: 'llama3', factor: 16, lowFreqFactor: 1, highFreqFactor: 1, originalMaxPositions: 8192 },
    });
    const d = defaultInvFreq(500000, 128);
    for (let j = 0; j < 64; j++) {
      const wavelen = (2 * Math.PI) / d[j];
      expect(r.base.invFreq[j]).toBe(wavelen > 8192 ? d[j] / 16 : d[j]);
    }
  });

  it('longrope with Phi-3.5-MoE short/long mscale: cos/sin scaled by the one for the sequence length', () => {
    const f = [1, 2];
    const r = resolve({
      headDim: 4,
      scaling: { type: 'longrope', shortFactor: f, longFactor: f, originalMaxPositions: 4096, factor: 32, shortMscale: 1.25, longMscale: 1.5 },
    });
    expect(r.forSeqLen(4096).attentionScaling).toBe(1.25);
    expect(r.forSeqLen(4097).attentionScaling).toBe(1.5);
    expect(r.base.attentionScaling).toBe(1.25);
  });

  it('proportional (Gemma 4): the first fraction of pairs at base^(-2j/d) / factor, the rest 0', () => {
    const r = resolve({ headDim: 16, base: 1e6, scaling: { type: 'proportional', rotaryFraction: 0.25, factor: 2 } });
    // rope_angles = int(0.25 * 16 // 2) = 2
    expect(Array.from(r.base.invFreq)).toEqual([1 / 2, 1 / Math.pow(1e6, 2 / 16) / 2, 0, 0, 0, 0, 0, 0]);
  });

  it('yarn: DeepSeek mscale/mscaleAllDim ratio, truncate=false, explicit attentionFactor', () => {
    const ds = { type: 'yarn', factor: 40, originalMaxPositions: 4096, betaFast: 32, betaSlow: 1 } as const;
    expect(resolve({ headDim: 64, scaling: { ...ds, mscale: 0.707, mscaleAllDim: 0.707 } }).base.attentionScaling).toBe(1);
    const m = resolve({ headDim: 64, scaling: { ...ds, mscale: 1, mscaleAllDim: 0.5 } }).base.attentionScaling;
    expect(m).toBeCloseTo((0.1 * Math.log(40) + 1) / (0.05 * Math.log(40) + 1), 15);
    expect(resolve({ headDim: 64, scaling: ds }).base.attentionScaling).toBeCloseTo(0.1 * Math.log(40) + 1, 15);
    expect(resolve({ headDim: 64, scaling: { ...ds, attentionFactor: 0.9 } }).base.attentionScaling).toBe(0.9);
    // The first frequency extrapolates (kept), the last interpolates (divided by factor).
    const t = resolve({ headDim: 64, scaling: { ...ds, truncate: false } }).base.invFreq;
    const d = defaultInvFreq(10000, 64);
    expect(t[0]).toBe(d[0]);
    expect(ulpDiff(t[31], d[31] / 40)).toBeLessThanOrEqual(1);
    // Without truncation the ramp starts at the unrounded correction dimension.
    const low = (64 * Math.log(4096 / (32 * 2 * Math.PI))) / (2 * Math.log(10000));
    const high = (64 * Math.log(4096 / (1 * 2 * Math.PI))) / (2 * Math.log(10000));
    const j = Math.ceil(low) + 1;
    const ramp = (j - low) / (high - low);
    expect(t[j]).toBeCloseTo((d[j] / 40) * ramp + d[j] * (1 - ramp), 15);
  });

  it('freqFactors (llama.cpp rope_freqs) divides each frequency by its factor', () => {
    const factors = Array.from({ length: 32 }, (_, j) => 1 + j);
    const r = resolve({ headDim: 64, scaling: { type: 'freqFactors', factors } });
    const d = defaultInvFreq(10000, 64);
    for (let j = 0; j < 32; j++) expect(r.base.invFreq[j]).toBe(d[j] / (1 + j));
  });
});

describe('M-RoPE pair sections', () => {
  it('Qwen2-VL blocks [16, 24, 24]', () => {
    const p = pairSections(128, [16, 24, 24])!;
    expect(p.length).toBe(64);
    for (let j = 0; j < 64; j++) expect(p[j]).toBe(j < 16 ? 0 : j < 40 ? 1 : 2);
  });

  it('two sections (vision 2-D RoPE)', () => {
    const p = pairSections(32, [8, 8])!;
    expect(Array.from(p)).toEqual([...Array(8).fill(0), ...Array(8).fill(1)]);
  });

  it('interleaved [24, 20, 20] follows llama.cpp IMROPE sectors (leftover pairs read row 0)', () => {
    const s = [24, 20, 20];
    const p = pairSections(128, s, true)!;
    for (let j = 0; j < 64; j++) {
      // ggml rope_multi, is_imrope: h if sector%3==1 && sector<3*s1, w if %3==2 && <3*s2, else t
      const expected = j % 3 === 1 && j < 3 * s[1] ? 1 : j % 3 === 2 && j < 3 * s[2] ? 2 : 0;
      expect(p[j]).toBe(expected);
    }
    expect(Array.from(p.subarray(0, 7))).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(Array.from(p.subarray(58))).toEqual([1, 2, 0, 0, 0, 0]);
  });

  it('no sections -> null', () => {
    expect(pairSections(128)).toBeNull();
  });
});

describe('errors name the parameter, expected and got', () => {
  const bad: [string, RopeOptions, RegExp, typeof TypeError | typeof RangeError][] = [
    ['unknown type', { headDim: 64, scaling: { type: 'ntk' } as unknown as ScalingOptions }, /scaling\.type must be one of .*got 'ntk'/, TypeError],
    ['factor 0', { headDim: 64, scaling: { type: 'linear', factor: 0 } }, /scaling\.factor must be > 0, got 0/, RangeError],
    ['factor NaN', { headDim: 64, scaling: { type: 'linear', factor: NaN } }, /scaling\.factor must be finite, got NaN/, RangeError],
    ['factor string', { headDim: 64, scaling: { type: 'linear', factor: '2' as unknown as number } }, /scaling\.factor must be a number, got '2'/, TypeError],
    ['missing originalMaxPositions', { headDim: 64, scaling: { type: 'yarn', factor: 4 } as ScalingOptions }, /scaling\.originalMaxPositions is required for scaling\.type 'yarn'/, TypeError],
    ['dynamic negative factor', { headDim: 64, scaling: { type: 'dynamic', factor: -1, originalMaxPositions: 8 } }, /scaling\.factor must be > 0, got -1/, RangeError],
    ['llama3 low > high', { headDim: 64, scaling: { type: 'llama3', factor: 8, lowFreqFactor: 4, highFreqFactor: 1, originalMaxPositions: 8192 } }, /lowFreqFactor must be <= scaling\.highFreqFactor, got 4 > 1/, RangeError],
    ['proportional fraction > 1', { headDim: 8, scaling: { type: 'proportional', rotaryFraction: 2 } }, /scaling\.rotaryFraction must be in \[0, 1\], got 2/, RangeError],
    ['longrope mscale 0', { headDim: 4, scaling: { type: 'longrope', shortFactor: [1, 1], longFactor: [1, 1], originalMaxPositions: 8, attentionFactor: 1, longMscale: 0 } }, /scaling\.longMscale must be > 0, got 0/, RangeError],
    ['longrope wrong length', { headDim: 64, scaling: { type: 'longrope', shortFactor: [1, 2], longFactor: [1, 2], originalMaxPositions: 8, attentionFactor: 1 } }, /scaling\.shortFactor\.length must be rotaryDim\/2 = 32, got 2/, RangeError],
    ['longrope no attention source', { headDim: 4, scaling: { type: 'longrope', shortFactor: [1, 1], longFactor: [1, 1], originalMaxPositions: 8 } }, /needs scaling\.attentionFactor, scaling\.factor or maxPositions/, TypeError],
    ['yarn betaFast 0', { headDim: 64, scaling: { type: 'yarn', factor: 4, originalMaxPositions: 8, betaFast: 0 } }, /scaling\.betaFast must be > 0, got 0/, RangeError],
    ['yarn truncate not boolean', { headDim: 64, scaling: { type: 'yarn', factor: 4, originalMaxPositions: 8, truncate: 1 as unknown as boolean } }, /scaling\.truncate must be a boolean, got 1/, TypeError],
  ];
  for (const [name, o, msg, Err] of bad) {
    it(name, () => {
      expect(() => resolve(o)).toThrow(Err);
      expect(() => resolve(o)).toThrow(msg);
    });
  }

  it('mropeSection errors', () => {
    expect(() => pairSections(128, [16, 24, 16])).toThrow(/must sum to rotaryDim\/2 = 64, got 56/);
    expect(() => pairSections(128, [64])).toThrow(RangeError);
    expect(() => pairSections(128, [16, 24, 24, 0, 0])).toThrow(/2 to 4 sections, got 5/);
    expect(() => pairSections(128, [16.5, 23.5, 24])).toThrow(/mropeSection\[0\] must be a non-negative integer, got 16.5/);
    expect(() => pairSections(128, 'x' as unknown as number[])).toThrow(TypeError);
    expect(() => pairSections(128, undefined, true)).toThrow(/mropeInterleaved needs mropeSection/);
  });
});

describe('dynamic scaling parameters', () => {
  it.each([1.5, 0, -8])('originalMaxPositions %s is refused by name', (v) => {
    const opts = { headDim: 64, rotaryDim: 64, base: 10000, scaling: { type: 'dynamic', factor: 2, originalMaxPositions: v } } as const;
    expect(() => resolveScaling(opts as unknown as RopeOptions & { rotaryDim: number; base: number })).toThrow(/originalMaxPositions/);
  });
});
