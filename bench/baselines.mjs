// Hand-written JS RoPE, the way people write it without a library: in place over [tokens, heads,
// headDim], q then k, token t at position start + t. Two versions, each for both pair styles and
// for f32 and bf16:
//  - table: cos/sin precomputed once per model into Float32Array rows [position][rotaryDim/2]
//    (what HF's rotary_emb cache does), then plain nested loops;
//  - naive: Math.cos/Math.sin in the innermost loop (only invFreq is hoisted).
// These are the yardsticks the package is compared with; they are deliberately not tuned.

// bf16 by hand: a bf16 value is the top half of an f32, so decode is bits << 16 through a shared
// Float32Array/Uint32Array view, encode rounds the low 16 bits to nearest, ties to even.
const f32View = new Float32Array(1);
const u32View = new Uint32Array(f32View.buffer);

export function bf16ToF32(bits) {
  u32View[0] = bits << 16;
  return f32View[0];
}

export function f32ToBf16(value) {
  f32View[0] = value;
  const u = u32View[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** invFreq_j = base^(-2j/rotaryDim), as every RoPE implementation starts. */
export function invFreqs(rotaryDim, base) {
  const half = rotaryDim / 2;
  const inv = new Float64Array(half);
  for (let j = 0; j < half; j++) inv[j] = 1 / Math.pow(base, (2 * j) / rotaryDim);
  return inv;
}

/** The cos/sin cache: Float32Array rows [position][rotaryDim/2] for positions 0..maxPositions-1. */
export function makeTable(maxPositions, rotaryDim, base) {
  const half = rotaryDim / 2;
  const inv = invFreqs(rotaryDim, base);
  const cos = new Float32Array(maxPositions * half);
  const sin = new Float32Array(maxPositions * half);
  for (let p = 0; p < maxPositions; p++) {
    for (let j = 0; j < half; j++) {
      const angle = p * inv[j];
      cos[p * half + j] = Math.cos(angle);
      sin[p * half + j] = Math.sin(angle);
    }
  }
  return { cos, sin, half, rotaryDim, maxPositions };
}

// ---- table version -------------------------------------------------------------------------

function tableHalfF32(x, heads, headDim, start, table) {
  const { cos, sin, half } = table;
  const tokens = x.length / (heads * headDim);
  for (let t = 0; t < tokens; t++) {
    const row = (start + t) * half;
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * headDim;
      for (let j = 0; j < half; j++) {
        const c = cos[row + j];
        const s = sin[row + j];
        const x0 = x[base + j];
        const x1 = x[base + j + half];
        x[base + j] = x0 * c - x1 * s;
        x[base + j + half] = x1 * c + x0 * s;
      }
    }
  }
}

function tableInterleavedF32(x, heads, headDim, start, table) {
  const { cos, sin, half } = table;
  const tokens = x.length / (heads * headDim);
  for (let t = 0; t < tokens; t++) {
    const row = (start + t) * half;
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * headDim;
      for (let j = 0; j < half; j++) {
        const c = cos[row + j];
        const s = sin[row + j];
        const x0 = x[base + 2 * j];
        const x1 = x[base + 2 * j + 1];
        x[base + 2 * j] = x0 * c - x1 * s;
        x[base + 2 * j + 1] = x1 * c + x0 * s;
      }
    }
  }
}

function tableHalfBf16(x, heads, headDim, start, table) {
  const { cos, sin, half } = table;
  const tokens = x.length / (heads * headDim);
  for (let t = 0; t < tokens; t++) {
    const row = (start + t) * half;
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * headDim;
      for (let j = 0; j < half; j++) {
        const c = cos[row + j];
        const s = sin[row + j];
        const x0 = bf16ToF32(x[base + j]);
        const x1 = bf16ToF32(x[base + j + half]);
        x[base + j] = f32ToBf16(x0 * c - x1 * s);
        x[base + j + half] = f32ToBf16(x1 * c + x0 * s);
      }
    }
  }
}

function tableInterleavedBf16(x, heads, headDim, start, table) {
  const { cos, sin, half } = table;
  const tokens = x.length / (heads * headDim);
  for (let t = 0; t < tokens; t++) {
    const row = (start + t) * half;
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * headDim;
      for (let j = 0; j < half; j++) {
        const c = cos[row + j];
        const s = sin[row + j];
        const x0 = bf16ToF32(x[base + 2 * j]);
        const x1 = bf16ToF32(x[base + 2 * j + 1]);
        x[base + 2 * j] = f32ToBf16(x0 * c - x1 * s);
        x[base + 2 * j + 1] = f32ToBf16(x1 * c + x0 * s);
      }
    }
  }
}

// ---- naive version -------------------------------------------------------------------------

function naiveHalfF32(x, heads, headDim, start, inv) {
  const half = inv.length;
  const tokens = x.length / (heads * headDim);
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * headDim;
      for (let j = 0; j < half; j++) {
        const angle = (start + t) * inv[j];
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        const x0 = x[base + j];
        const x1 = x[base + j + half];
        x[base + j] = x0 * c - x1 * s;
        x[base + j + half] = x1 * c + x0 * s;
      }
    }
  }
}

function naiveInterleavedF32(x, heads, headDim, start, inv) {
  const half = inv.length;
  const tokens = x.length / (heads * headDim);
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * headDim;
      for (let j = 0; j < half; j++) {
        const angle = (start + t) * inv[j];
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        const x0 = x[base + 2 * j];
        const x1 = x[base + 2 * j + 1];
        x[base + 2 * j] = x0 * c - x1 * s;
        x[base + 2 * j + 1] = x1 * c + x0 * s;
      }
    }
  }
}

function naiveHalfBf16(x, heads, headDim, start, inv) {
  const half = inv.length;
  const tokens = x.length / (heads * headDim);
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * headDim;
      for (let j = 0; j < half; j++) {
        const angle = (start + t) * inv[j];
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        const x0 = bf16ToF32(x[base + j]);
        const x1 = bf16ToF32(x[base + j + half]);
        x[base + j] = f32ToBf16(x0 * c - x1 * s);
        x[base + j + half] = f32ToBf16(x1 * c + x0 * s);
      }
    }
  }
}

function naiveInterleavedBf16(x, heads, headDim, start, inv) {
  const half = inv.length;
  const tokens = x.length / (heads * headDim);
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * headDim;
      for (let j = 0; j < half; j++) {
        const angle = (start + t) * inv[j];
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        const x0 = bf16ToF32(x[base + 2 * j]);
        const x1 = bf16ToF32(x[base + 2 * j + 1]);
        x[base + 2 * j] = f32ToBf16(x0 * c - x1 * s);
        x[base + 2 * j + 1] = f32ToBf16(x1 * c + x0 * s);
      }
    }
  }
}

const TABLE = {
  half: { f32: tableHalfF32, bf16: tableHalfBf16 },
  interleaved: { f32: tableInterleavedF32, bf16: tableInterleavedBf16 },
};
const NAIVE = {
  half: { f32: naiveHalfF32, bf16: naiveHalfBf16 },
  interleaved: { f32: naiveInterleavedF32, bf16: naiveInterleavedBf16 },
};

/** applyQK(q, k, start) with the table version; the table must cover start + tokens - 1. */
export function tableApplyQK({ style, dtype, headDim, qHeads, kHeads, table }) {
  const rotate = TABLE[style][dtype];
  return (q, k, start) => {
    rotate(q, qHeads, headDim, start, table);
    rotate(k, kHeads, headDim, start, table);
  };
}

/** applyQK(q, k, start) with the naive version. */
export function naiveApplyQK({ style, dtype, headDim, qHeads, kHeads, base }) {
  const rotate = NAIVE[style][dtype];
  return (q, k, start) => {
    const inv = invFreqs(headDim, base);
    rotate(q, qHeads, headDim, start, inv);
    rotate(k, kHeads, headDim, start, inv);
  };
}
