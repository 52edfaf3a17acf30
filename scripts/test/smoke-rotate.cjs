// A small rotation smoke test for an installed rope-simd, run by test-arm64-prebuild.sh (under
// qemu) and test-package.sh. Deterministic inputs, so two runs can be compared:
//   node smoke-rotate.cjs run  > out.json   (in the consumer project; the env picks the backend)
//   node smoke-rotate.cjs compare native.json js.json
//   node smoke-rotate.cjs worker-exit   (workers load the addon, the main thread never does: each
//     has the binding refuse a call, a C++ exception, then ends; Node then unloads the addon, and
//     the thread-exit state of the prebuild's static C++ runtime must still be mapped)
// The comparison applies the parity tests' native-vs-JS bound: f32 within 2 ulp (2^-23 relative) of the row's
// largest |value|; f16/bf16 within 1 ulp of the element or of that row bound.
'use strict';

// [name, Rope options, call, dtype, shape] — small, but with tails past every lane width
// (rotaryDim/2 = 64, 24, 20, 17), both styles, partial rotary, per-token positions, large positions.
const CONFIGS = [
  { name: 'f32 half, 2 tokens x 3 heads x 128, offset 7', rope: { headDim: 128 }, heads: 3, tokens: 2, dtype: 'f32', positions: 7 },
  { name: 'f32 interleaved partial 48/64, positions [0, 100000, 3]', rope: { headDim: 64, rotaryDim: 48, style: 'interleaved' }, heads: 2, tokens: 3, dtype: 'f32', positions: [0, 100000, 3] },
  { name: 'f16 half 40, base 500000, offset 12345', rope: { headDim: 40, base: 500000 }, heads: 4, tokens: 2, dtype: 'f16', positions: 12345 },
  { name: 'bf16 interleaved 34', rope: { headDim: 34, style: 'interleaved' }, heads: 2, tokens: 3, dtype: 'bf16', positions: 1 },
  { name: 'f32 applyQK 4 q heads + 2 k heads x 128, inverse', rope: { headDim: 128 }, qHeads: 4, kHeads: 2, tokens: 2, dtype: 'f32', positions: [5, 9], inverse: true },
];

// Park-Miller LCG: the same inputs in every process and on every architecture.
function inputs(n, seed) {
  let s = seed;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 48271) % 2147483647;
    out[i] = (s / 2147483647) * 2 - 1;
  }
  return out;
}

function f32ToBf16(v) {
  const u = new Uint32Array(new Float32Array([v]).buffer)[0];
  return (u + 0x7fff + ((u >> 16) & 1)) >>> 16; // round to nearest even (inputs are finite)
}
function f32ToF16(v) {
  // Inputs are in [-1, 1]: normal or subnormal f16, no overflow. Round to nearest even.
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24);
  const e = Math.floor(Math.log2(a));
  let m = Math.round((a / 2 ** e - 1) * 1024);
  let ee = e;
  if (m === 1024) { m = 0; ee++; }
  return sign | ((ee + 15) << 10) | m;
}
function tensor(dtype, n, seed) {
  const v = inputs(n, seed);
  if (dtype === 'f32') return Float32Array.from(v);
  return Uint16Array.from(v, dtype === 'bf16' ? f32ToBf16 : f32ToF16);
}

function run() {
  const { Rope, backendInfo } = require('rope-simd');
  const results = {};
  CONFIGS.forEach((c, i) => {
    const rope = new Rope(c.rope);
    const positions = Array.isArray(c.positions) ? Int32Array.from(c.positions) : c.positions;
    const base = { positions, dtype: c.dtype, inverse: !!c.inverse };
    if (c.qHeads) {
      const q = tensor(c.dtype, c.tokens * c.qHeads * c.rope.headDim, 1000 + i);
      const k = tensor(c.dtype, c.tokens * c.kHeads * c.rope.headDim, 2000 + i);
      rope.applyQK(q, k, { ...base, qHeads: c.qHeads, kHeads: c.kHeads });
      results[c.name] = { q: Array.from(q), k: Array.from(k) };
    } else {
      const x = tensor(c.dtype, c.tokens * c.heads * c.rope.headDim, 1000 + i);
      rope.apply(x, { ...base, heads: c.heads });
      results[c.name] = { x: Array.from(x) };
    }
  });
  process.stdout.write(JSON.stringify({ backendInfo, arch: process.arch, node: process.version, results }));
}

const toF32 = (dtype, u) => {
  if (dtype === 'f32') return u;
  if (dtype === 'bf16') return new Float32Array(new Uint32Array([u << 16]).buffer)[0];
  const e = (u >> 10) & 31, m = u & 1023, s = u & 0x8000 ? -1 : 1;
  return s * (e === 0 ? m * 2 ** -24 : 2 ** (e - 15) * (1 + m / 1024));
};
const MANTISSA = { f32: 23, f16: 10, bf16: 7 };
// One ulp of v in dtype (f16 subnormals: 2^-24).
const ulp = (dtype, v) => {
  const a = Math.abs(v);
  const u = a === 0 ? 0 : 2 ** (Math.floor(Math.log2(a)) - MANTISSA[dtype]);
  return dtype === 'f16' ? Math.max(u, 2 ** -24) : u;
};

function compare(a, b) {
  let worst = 0;
  const failures = [];
  for (const c of CONFIGS) {
    for (const part of Object.keys(a.results[c.name])) {
      const xa = a.results[c.name][part].map((u) => toF32(c.dtype, u));
      const xb = b.results[c.name][part].map((u) => toF32(c.dtype, u));
      if (xa.length !== xb.length) failures.push(`${c.name} ${part}: lengths ${xa.length} vs ${xb.length}`);
      const D = c.rope.headDim;
      for (let r = 0; r * D < xa.length; r++) {
        const row = xb.slice(r * D, r * D + D);
        const rowMax = Math.max(...row.map(Math.abs));
        const rowBound = 2 * rowMax * 2 ** -23; // 2 f32 ulp of the row's largest |value|
        for (let d = 0; d < D; d++) {
          const i = r * D + d;
          const diff = Math.abs(xa[i] - xb[i]);
          const bound = c.dtype === 'f32' ? rowBound : Math.max(ulp(c.dtype, xb[i]), rowBound);
          if (!(diff <= bound)) failures.push(`${c.name} ${part}[${i}]: ${xa[i]} vs ${xb[i]} (|diff| ${diff} > ${bound})`);
          if (rowMax > 0) worst = Math.max(worst, diff / rowMax);
        }
      }
    }
  }
  return { failures, worst };
}

function workerExit() {
  const { Worker } = require('worker_threads');
  const code = `
    const { parentPort } = require('worker_threads');
    const addon = require('node-gyp-build')(require('path').dirname(require.resolve('rope-simd/package.json')));
    try { new addon.NativeRope(-1, 0, 0, null, 1); } catch (e) { parentPort.postMessage(e.constructor.name + ': ' + e.message); }
  `;
  const said = [];
  let left = 3;
  const next = () => {
    if (left-- === 0) {
      // (every worker must have had its call refused by the binding, or this proved nothing)
      if (said.length !== 3 || !said.every((m) => m.startsWith('RangeError: headDim -1'))) {
        console.error(`smoke: worker-exit: the binding did not refuse in every worker: ${JSON.stringify(said)}`);
        process.exit(1);
      }
      return process.stdout.write(JSON.stringify({ workerExit: 'ok', said: said[0] }));
    }
    const w = new Worker(code, { eval: true });
    w.on('message', (m) => said.push(m));
    w.once('error', (e) => { console.error(e); process.exit(1); });
    w.once('exit', next);
  };
  next();
}

if (process.argv[2] === 'run') {
  run();
} else if (process.argv[2] === 'worker-exit') {
  workerExit();
} else if (process.argv[2] === 'compare') {
  const fs = require('fs');
  const [a, b] = process.argv.slice(3, 5).map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
  const { failures, worst } = compare(a, b);
  if (failures.length) {
    console.error(`smoke: ${failures.length} elements differ beyond the bound:\n  ${failures.slice(0, 10).join('\n  ')}`);
    process.exit(1);
  }
  console.log(`smoke: ${CONFIGS.length} configs agree (${a.backendInfo.backend}/${a.backendInfo.isa} vs ${b.backendInfo.backend}/${b.backendInfo.isa}; largest |diff|/rowMax ${worst.toExponential(2)})`);
} else {
  console.error('usage: smoke-rotate.cjs run | compare A.json B.json | worker-exit');
  process.exit(2);
}
