// The Rope API's behaviour, checked against a plain float64 rotation written here.
import { describe, expect, it } from 'vitest';
import { Rope, backendInfo } from '../../lib/index.js';
import { createRope, nativeAddon } from '../../lib/internal.js';

// ---- the float64 reference -------------------------------------------------------------------

function refInvFreq(base: number, rotaryDim: number): number[] {
  return Array.from({ length: rotaryDim / 2 }, (_, j) => 1 / Math.pow(base, (2 * j) / rotaryDim));
}

/** Rotates x ([tokens, heads, headDim], shd) in float64; returns plain numbers. */
function refRotate(
  x: ArrayLike<number>,
  o: { heads: number; headDim: number; rotaryDim?: number; style?: 'half' | 'interleaved'; invFreq: number[]; scale?: number },
  positions: number[],
  inverse = false,
): number[] {
  const { heads, headDim } = o;
  const rot = o.rotaryDim ?? headDim;
  const half = rot / 2;
  const scale = o.scale ?? 1;
  const out = Array.from(x);
  positions.forEach((pos, t) => {
    for (let h = 0; h < heads; h++) {
      const row = (t * heads + h) * headDim;
      for (let j = 0; j < half; j++) {
        const [a, b] = o.style === 'interleaved' ? [row + 2 * j, row + 2 * j + 1] : [row + j, row + j + half];
        const c = Math.cos(pos * o.invFreq[j]) * scale;
        const s = (inverse ? -1 : 1) * Math.sin(pos * o.invFreq[j]) * scale;
        out[a] = x[a] * c - x[b] * s;
        out[b] = x[b] * c + x[a] * s;
      }
    }
  });
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function data(n: number, seed = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(seed * 1.7 + i * 0.61); // |x| <= 1
  return a;
}

const bf16ToNumber = (h: number) => new Float32Array(new Uint32Array([h << 16]).buffer)[0];
function f16ToNumber(h: number): number {
  const e = (h >> 10) & 31;
  const m = h & 1023;
  const v = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}

// ---- tests ---------------------------------------------------------------------------------------

describe('Rope', () => {
  it('apply rotates in place, returns undefined, keeps the array and its buffer', () => {
    const rope = new Rope({ headDim: 16, base: 500000 });
    const x = data(3 * 2 * 16);
    const before = Array.from(x);
    const buffer = x.buffer;
    expect(rope.apply(x, { heads: 2, positions: 4095 })).toBeUndefined();
    expect(x.buffer).toBe(buffer);
    const ref = refRotate(before, { heads: 2, headDim: 16, invFreq: refInvFreq(500000, 16) }, [4095, 4096, 4097]);
    expect(maxAbsDiff(x, ref)).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(x, before)).toBeGreaterThan(0.1);
  });

  it.each([
    ['half', 64, 64],
    ['half', 64, 32],
    ['interleaved', 64, 64],
    ['interleaved', 16, 8],
  ] as const)('f32 %s headDim %i rotaryDim %i matches float64 within 1e-6, at positions up to 2^24', (style, headDim, rotaryDim) => {
    const rope = new Rope({ headDim, rotaryDim, style, base: 10000 });
    const positions = [0, 1, 4095, 1_000_000, 2 ** 24 - 1];
    const x = data(positions.length * 3 * headDim, 7);
    const ref = refRotate(x, { heads: 3, headDim, rotaryDim, style, invFreq: refInvFreq(10000, rotaryDim) }, positions);
    const keep = x.slice();
    rope.apply(x, { heads: 3, positions });
    expect(maxAbsDiff(x, ref)).toBeLessThanOrEqual(1e-6);
    // dims past rotaryDim pass through bit for bit
    for (let r = 0; r < positions.length * 3; r++) {
      expect(x.subarray(r * headDim + rotaryDim, (r + 1) * headDim)).toEqual(keep.subarray(r * headDim + rotaryDim, (r + 1) * headDim));
    }
  });

  it.each([
    ['bf16', bf16ToNumber, 2 ** -7],
    ['f16', f16ToNumber, 2 ** -10],
  ] as const)('%s: within one ulp of the float64 result', (dtype, decode, ulp) => {
    const rope = new Rope({ headDim: 32 });
    const bits = new Uint16Array(2 * 2 * 32);
    for (let i = 0; i < bits.length; i++) bits[i] = dtype === 'bf16' ? 0x3f00 + ((i * 97) & 0xff) : 0x3800 + ((i * 97) & 0x3ff);
    const x = Array.from(bits, decode);
    rope.apply(bits, { heads: 2, positions: [3, 100000], dtype });
    const ref = refRotate(x, { heads: 2, headDim: 32, invFreq: refInvFreq(10000, 32) }, [3, 100000]);
    for (let i = 0; i < bits.length; i++) {
      // one ulp of the result's binade is at most |ref| * 2^-(mantissa bits)
      const tol = Math.max(Math.abs(ref[i]) * ulp, 2 ** -24);
      expect(Math.abs(decode(bits[i]) - ref[i])).toBeLessThanOrEqual(tol);
    }
  });

  it('inverse undoes apply; positions as an offset equal the same positions listed', () => {
    const rope = new Rope({ headDim: 32, base: 500000, style: 'interleaved' });
    const x = data(5 * 4 * 32, 3);
    const orig = x.slice();
    const y = x.slice();
    rope.apply(x, { heads: 4, positions: 1000 });
    rope.apply(y, { heads: 4, positions: [1000, 1001, 1002, 1003, 1004] });
    expect(x).toEqual(y);
    rope.apply(x, { heads: 4, positions: Int32Array.of(1000, 1001, 1002, 1003, 1004), inverse: true });
    expect(maxAbsDiff(x, orig)).toBeLessThanOrEqual(1e-6);
  });

  it('applying positions d to rotated keys shifts them by d (KV-cache shift)', () => {
    const rope = new Rope({ headDim: 16 });
    const a = data(2 * 16, 5);
    const b = a.slice();
    rope.apply(a, { heads: 1, positions: [10, 20] });
    rope.apply(a, { heads: 1, positions: [7, 7] }); // both tokens shifted by 7
    rope.apply(b, { heads: 1, positions: [17, 27] });
    expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(1e-6);
  });

  it("'shd', 'bshd' and 'bhsd' agree on the same data", () => {
    const [B, T, H, D] = [2, 3, 4, 8];
    const rope = new Rope({ headDim: D });
    const bshd = data(B * T * H * D, 9);
    const bhsd = new Float32Array(bshd.length);
    const at = (b: number, t: number, h: number) => [((b * T + t) * H + h) * D, ((b * H + h) * T + t) * D];
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++)
        for (let h = 0; h < H; h++) {
          const [i, j] = at(b, t, h);
          bhsd.set(bshd.subarray(i, i + D), j);
        }
    const shd = bshd.slice(0, T * H * D); // batch row 0 alone
    const positions = [5, 9, 2, 40, 41, 42];
    rope.apply(bshd, { heads: H, layout: 'bshd', batch: B, positions });
    rope.apply(bhsd, { heads: H, layout: 'bhsd', batch: B, positions });
    rope.apply(shd, { heads: H, positions: positions.slice(0, T) });
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++)
        for (let h = 0; h < H; h++) {
          const [i, j] = at(b, t, h);
          expect(bhsd.subarray(j, j + D)).toEqual(bshd.subarray(i, i + D));
        }
    expect(shd).toEqual(bshd.subarray(0, T * H * D));
  });

  it('applyQK equals apply on q and apply on k; the async forms give the same bits', async () => {
    const rope = new Rope({ headDim: 16, base: 500000 });
    const q = data(3 * 4 * 16, 11);
    const k = data(3 * 2 * 16, 12);
    const [q1, k1, q2, k2, q3] = [q.slice(), k.slice(), q.slice(), k.slice(), q.slice()];
    rope.applyQK(q, k, { qHeads: 4, kHeads: 2, positions: 77 });
    rope.apply(q1, { heads: 4, positions: 77 });
    rope.apply(k1, { heads: 2, positions: 77 });
    expect(q).toEqual(q1);
    expect(k).toEqual(k1);
    const done = rope.applyQKAsync(q2, k2, { qHeads: 4, kHeads: 2, positions: 77 });
    expect(done).toBeInstanceOf(Promise);
    await expect(done).resolves.toBeUndefined();
    await rope.applyAsync(q3, { heads: 4, positions: 77 });
    expect(q2).toEqual(q);
    expect(k2).toEqual(k);
    expect(q3).toEqual(q);
  });

  it('getters: headDim, rotaryDim, style, invFreq (a fresh float64 copy), attentionScaling', () => {
    const rope = new Rope({ headDim: 128, rotaryDim: 64, base: 500000, style: 'interleaved' });
    expect([rope.headDim, rope.rotaryDim, rope.style, rope.attentionScaling]).toEqual([128, 64, 'interleaved', 1]);
    const f = rope.invFreq;
    expect(f).toBeInstanceOf(Float64Array);
    expect(f.length).toBe(32);
    const ref = refInvFreq(500000, 64);
    for (let j = 0; j < 32; j++) expect(Math.abs(f[j] - ref[j])).toBeLessThanOrEqual(Math.abs(ref[j]) * 2 ** -52);
    const kept = f.slice();
    f.fill(0); // a copy: the Rope's own frequencies stay
    expect(rope.invFreq).toEqual(kept);
    expect(rope.invFreq).not.toBe(rope.invFreq);
    expect([new Rope({ headDim: 8 }).style, new Rope({ headDim: 8 }).rotaryDim]).toEqual(['half', 8]);
  });

  it('attentionScaling (YaRN) multiplies the rotation', () => {
    const scaling = { type: 'yarn' as const, factor: 4, originalMaxPositions: 2048 };
    const rope = new Rope({ headDim: 16, scaling });
    expect(rope.attentionScaling).toBeCloseTo(0.1 * Math.log(4) + 1, 12);
    const x = data(2 * 16, 4);
    const ref = refRotate(x, { heads: 1, headDim: 16, invFreq: Array.from(rope.invFreq), scale: rope.attentionScaling }, [3, 900]);
    rope.apply(x, { heads: 1, positions: [3, 900] });
    expect(maxAbsDiff(x, ref)).toBeLessThanOrEqual(2e-6);
  });

  it('dynamic NTK: frequencies follow seqLen = max position + 1, or the seqLen option', () => {
    const [D, base, factor, orig] = [16, 10000, 2, 64];
    const rope = new Rope({ headDim: D, base, scaling: { type: 'dynamic', factor, originalMaxPositions: orig } });
    const dynInvFreq = (seqLen: number) =>
      refInvFreq(base * Math.pow((factor * seqLen) / orig - (factor - 1), D / (D - 2)), D);
    const x = data(2 * D, 8);
    const a = x.slice();
    rope.apply(a, { heads: 1, positions: [10, 199] }); // seqLen 200 > 64: scaled base
    expect(maxAbsDiff(a, refRotate(x, { heads: 1, headDim: D, invFreq: dynInvFreq(200) }, [10, 199]))).toBeLessThanOrEqual(1e-6);
    const b = x.slice();
    rope.apply(b, { heads: 1, positions: [10, 199], seqLen: 1000 });
    expect(maxAbsDiff(b, refRotate(x, { heads: 1, headDim: D, invFreq: dynInvFreq(1000) }, [10, 199]))).toBeLessThanOrEqual(1e-6);
    const c = x.slice();
    rope.apply(c, { heads: 1, positions: [10, 20] }); // seqLen 21 <= 64: plain frequencies
    expect(maxAbsDiff(c, refRotate(x, { heads: 1, headDim: D, invFreq: refInvFreq(base, D) }, [10, 20]))).toBeLessThanOrEqual(1e-6);
  });

  it("cosSin: Hugging Face's [n, rotaryDim] layout, cos[t, j] = cos[t, j + rotaryDim/2]", () => {
    const rope = new Rope({ headDim: 64, rotaryDim: 32, base: 500000 });
    const positions = [0, 7, 4095, 1_000_000];
    const { cos, sin } = rope.cosSin(positions);
    expect(cos).toBeInstanceOf(Float32Array);
    expect(cos.length).toBe(4 * 32);
    expect(sin.length).toBe(4 * 32);
    const f = refInvFreq(500000, 32);
    positions.forEach((p, t) => {
      for (let j = 0; j < 32; j++) {
        const w = f[j % 16];
        expect(Math.abs(cos[t * 32 + j] - Math.cos(p * w))).toBeLessThanOrEqual(6e-8);
        expect(Math.abs(sin[t * 32 + j] - Math.sin(p * w))).toBeLessThanOrEqual(6e-8);
      }
    });
    const one = rope.cosSin(4095);
    expect(one.cos).toEqual(cos.subarray(2 * 32, 3 * 32));
    expect(rope.cosSin(Int32Array.of(7)).sin).toEqual(sin.subarray(32, 64));
  });

  it('cosSin carries attentionScaling', () => {
    const rope = new Rope({ headDim: 8, scaling: { type: 'yarn', factor: 8, originalMaxPositions: 1024 } });
    const s = rope.attentionScaling;
    const { cos, sin } = rope.cosSin([0, 3]);
    expect(cos[0]).toBe(Math.fround(s));
    expect(sin[0]).toBe(0);
    const f = rope.invFreq;
    expect(Math.abs(cos[8 + 1] - s * Math.cos(3 * f[1]))).toBeLessThanOrEqual(2e-7);
  });

  it('createRope forces an engine; both engines agree with the reference', () => {
    const js = createRope({ headDim: 16 }, 'js');
    const x = data(2 * 16, 2);
    const ref = refRotate(x, { heads: 1, headDim: 16, invFreq: refInvFreq(10000, 16) }, [5, 6]);
    js.apply(x, { heads: 1, positions: 5 });
    expect(maxAbsDiff(x, ref)).toBeLessThanOrEqual(1e-6);
    if (nativeAddon) {
      const y = data(2 * 16, 2);
      createRope({ headDim: 16 }, 'native').apply(y, { heads: 1, positions: 5 });
      expect(maxAbsDiff(y, ref)).toBeLessThanOrEqual(1e-6);
      expect(backendInfo.backend).toBe('native');
    } else {
      expect(() => createRope({ headDim: 16 }, 'native')).toThrow(/native engine is not available/);
      expect(backendInfo.backend).toBe(process.env.ROPE_SIMD_BACKEND === 'js' ? 'js' : 'wasm');
    }
    const z = data(2 * 16, 2);
    createRope({ headDim: 16 }, 'wasm').apply(z, { heads: 1, positions: 5 });
    expect(maxAbsDiff(z, ref)).toBeLessThanOrEqual(1e-6);
    expect(() => createRope({ headDim: 16 }, 'gpu' as never)).toThrow(TypeError);
  });

  it('a forced engine reaches only its own Rope: one built inside the call (an options getter) and new Rope(o, x) get the default', () => {
    const dflt = new Rope({ headDim: 8 }).engine;
    const forced = dflt === 'js' ? 'wasm' : 'js';
    let inner: Rope | undefined;
    const outer = createRope({ get headDim() { inner ??= new Rope({ headDim: 8 }); return 8; } }, forced);
    expect(outer.engine).toBe(forced);
    expect(inner!.engine).toBe(dflt);
    expect(new (Rope as unknown as new (o: object, f: unknown) => Rope)({ headDim: 8 }, { name: forced }).engine).toBe(dflt);
    expect(new (Rope as unknown as new (o: object, f: unknown) => Rope)({ headDim: 8 }, forced).engine).toBe(dflt);
  });
});

describe('errors name the caller\'s parameter on either engine', () => {
  it.each(['js', 'wasm', ...(nativeAddon ? ['native'] : [])] as const)('%s: apply says x, applyQK says q', async (engine) => {
    const rope = createRope({ headDim: 8 }, engine as 'js' | 'native' | 'wasm');
    const x = new Float32Array(8 * 3).fill(0.5);
    const before = x.slice();
    // tokenStride pushes the last row past the end: a bounds error, found by whichever layer checks it
    expect(() => rope.apply(x, { heads: 1, tokens: 3, tokenStride: 9, positions: 0 })).toThrow(/\bx\b/);
    await expect(rope.applyAsync(x, { heads: 1, tokens: 3, tokenStride: 9, positions: 0 })).rejects.toThrow(/\bx\b/);
    expect(x).toEqual(before);
    const k = new Float32Array(8 * 3);
    expect(() => rope.applyQK(x, k, { qHeads: 1, kHeads: 1, tokens: 3, tokenStride: 9, positions: 0 })).toThrow(/\bq\b/);
  });
});
