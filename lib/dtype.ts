// f16 / bf16 <-> JS number. Decoding is a table lookup (f16) or a shift (bf16). Encoding rounds a
// float64 value to nearest-even DIRECTLY, without double rounding: Math.fround first, and where that
// float32 lies exactly on a tie of the 16-bit format (the only place the first rounding can have
// pushed it), the float32 neighbour on v's side is used instead, which is what round-to-odd gives;
// float32 has >= 13 more bits than either format, so the second rounding is then the correct one.
// The common case is a few integer ops behind one well-predicted branch; the rare cases (a tie, NaN,
// f16 outside its normal range) sit behind it. The JS engine writes the same common case into its
// row loops (see engine-js.ts) and calls numberToF16 for f16's rare cases.

// One shared scratch to reinterpret float32 <-> bits. Int32, not Uint32: a Uint32 read above 2^31 is
// not an int32, and V8 then does the bit arithmetic on doubles (measured ~1.5x slower loops).
const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

let f16Table: Float32Array | null = null;

function buildF16Table(): Float32Array {
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // zero or subnormal: mant * 2^-24, exact in float32
      table[h] = mant * 5.9604644775390625e-8;
      bits[h] = (bits[h] | sign) >>> 0;
    } else if (exp === 31) {
      bits[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0; // Inf, or NaN keeping its payload
    } else {
      bits[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    }
  }
  return table;
}

/** The 65536-entry f16 bits -> value table (built once, on first use). */
export function f16DecodeTable(): Float32Array {
  return f16Table ?? (f16Table = buildF16Table());
}

export function f16ToNumber(h: number): number {
  return (f16Table ?? f16DecodeTable())[h & 0xffff];
}

export function bf16ToNumber(h: number): number {
  i32[0] = h << 16;
  return f32[0];
}

/** Round-to-nearest-even of v to f16 bits. NaN stays a quiet NaN with its sign (and top payload
 * bits); overflow goes to Infinity exactly where IEEE RNE does (|v| >= 65520). */
export function numberToF16(v: number): number {
  f32[0] = v;
  const bits = i32[0];
  const b = bits & 0x7fffffff;
  const sign = (bits >>> 16) & 0x8000;
  // |fround(v)| in f16's normal range [2^-14, 2^16): everything else (subnormal, zero, overflow, NaN)
  // is rare and handled out of line
  if (b < 0x38800000 || b >= 0x47800000) return sign | f16OutOfRange(b, v);
  // Double rounding can only bite when fround(v) landed exactly on an f16 tie: then step to the
  // float32 neighbour on v's side (what round-to-odd would give).
  let r = b;
  if ((b & 0x1fff) === 0x1000 && f32[0] !== v) r += Math.abs(f32[0]) > Math.abs(v) ? -1 : 1;
  // rebias the exponent and round the 13 dropped bits to nearest-even; a carry out of the mantissa
  // bumps the exponent, up to 0x7c00 = Infinity
  return sign | ((r - 0x38000000 + 0xfff + ((r >>> 13) & 1)) >>> 13);
}

/** f16 magnitude bits for |fround(v)| bits b outside the normal range. */
function f16OutOfRange(b: number, v: number): number {
  if (b >= 0x47800000) {
    // |fround(v)| >= 65536: Infinity, or NaN (quiet bit set, payload top bits kept)
    return b > 0x7f800000 ? 0x7e00 | ((b >>> 13) & 0x3ff) : 0x7c00;
  }
  f32[0] = v;
  const inexact = f32[0] !== v;
  return f16Subnormal(b, inexact && Math.abs(f32[0]) > Math.abs(v), inexact);
}

/** f16 subnormal (or zero) from |fround(v)| bits b, in units of 2^-24. */
function f16Subnormal(b: number, roundedUp: boolean, inexact: boolean): number {
  // round-to-odd: truncate toward zero, set the sticky bit
  if (roundedUp) b -= 1;
  if (inexact) b |= 1;
  const e = b >>> 23;
  const shift = 126 - e;
  if (shift > 24) return 0; // below half the smallest subnormal
  const mant = (b & 0x7fffff) | 0x800000;
  const q = mant >>> shift;
  const rem = mant - q * (1 << shift);
  const halfway = 1 << (shift - 1);
  return rem > halfway || (rem === halfway && (q & 1) === 1) ? q + 1 : q;
}

/** Round-to-nearest-even of v to bf16 bits; NaN stays a quiet NaN with its sign. */
export function numberToBf16(v: number): number {
  f32[0] = v;
  let b = i32[0];
  if ((b & 0xffff) === 0x8000 || v !== v) {
    // rare: NaN (quiet it and drop the low bits, so the rounding below cannot carry out of the
    // payload), or, as in numberToF16, a float32 result exactly on a bf16 tie: take v's side
    if (v !== v) b = (b | 0x400000) & -0x10000;
    else if (f32[0] !== v) b += Math.abs(f32[0]) > Math.abs(v) ? -1 : 1;
  }
  // nearest-even on the low 16 bits (never overflows int32: |b| <= 0x7f800000 here); a carry reaches
  // 0x7f80 = Infinity past bf16's largest finite; >>> yields the sign in bit 15
  return (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
}

/** Float32 bits of fround(v) (for tests and diagnostics). */
export function f32Bits(v: number): number {
  f32[0] = v;
  return i32[0] >>> 0;
}
