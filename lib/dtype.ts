// f16 / bf16 <-> JS number. Decoding is a table lookup (f16) or a shift (bf16). Encoding rounds a
// float64 value to nearest-even DIRECTLY, without double rounding: Math.fround first, and where that
// float32 lies exactly on a tie of the 16-bit format (the only place the first rounding can have
// pushed it), the float32 neighbour on v's side is used instead, which is what round-to-odd gives;
// float32 has >= 13 more bits than either format, so the second rounding is then the correct one.
// The fix-up is a rare branch; the functions are small and monomorphic so the engine's inner loops
// inline them.

// One shared scratch to reinterpret float32 <-> bits.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

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
  u32[0] = h << 16;
  return f32[0];
}

/** Round-to-nearest-even of v to f16 bits. NaN stays a quiet NaN with its sign (and top payload
 * bits); overflow goes to Infinity exactly where IEEE RNE does (|v| >= 65520). */
export function numberToF16(v: number): number {
  f32[0] = v;
  let b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  b &= 0x7fffffff;
  if (b >= 0x38800000) {
    if (b >= 0x47800000) {
      // |fround(v)| >= 65536: Infinity, or NaN (quiet bit set, payload top bits kept)
      return b > 0x7f800000 ? sign | 0x7e00 | ((b >>> 13) & 0x3ff) : sign | 0x7c00;
    }
    // Double rounding can only bite when fround(v) landed exactly on an f16 tie: then step to the
    // float32 neighbour on v's side (what round-to-odd would give).
    if ((b & 0x1fff) === 0x1000 && f32[0] !== v) b = Math.abs(f32[0]) > Math.abs(v) ? b - 1 : b + 1;
    // rebias the exponent and round the 13 dropped bits to nearest-even; a carry out of the
    // mantissa bumps the exponent, up to 0x7c00 = Infinity
    return sign | ((b - 0x38000000 + 0xfff + ((b >>> 13) & 1)) >>> 13);
  }
  return sign | f16Subnormal(b, f32[0] !== v && Math.abs(f32[0]) > Math.abs(v), f32[0] !== v);
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
  let b = u32[0];
  // as in numberToF16: only a float32 result exactly on a bf16 tie needs v's side
  if ((b & 0xffff) === 0x8000 && f32[0] !== v) b = Math.abs(f32[0]) > Math.abs(v) ? b - 1 : b + 1;
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x40;
  // nearest-even on the low 16 bits; a carry reaches 0x7f80 = Infinity past bf16's largest finite
  return (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
}

/** Float32 bits of fround(v) (for tests and diagnostics). */
export function f32Bits(v: number): number {
  f32[0] = v;
  return u32[0];
}
