// The wasm engine's speed against the JS engine (and native) at the benchmark's shapes, before
// bench/ has wasm rows: min (STAT=median: median) of repeated applyQK calls, threads 1, copies
// into module memory included.  npm run build:ts && node scripts/wasm-ratio.mjs [S2,S3,S4]
import { createRope, nativeAddon } from '../dist/internal.js';
const MODEL = { qHeads: 32, kHeads: 8, headDim: 128, base: 500000 };
const SHAPES = [
  { shape: 'S1', tokens: 1, start: 4095 },
  { shape: 'S2', tokens: 16, start: 4080 },
  { shape: 'S3', tokens: 512, start: 0 },
  { shape: 'S4', tokens: 4096, start: 0 },
];
const only = process.argv[2]?.split(',');
function fill(n, dtype) {
  let s = 0x9e3779b9;
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; f[i] = ((s >>> 0) / 4294967296) * 2 - 1; }
  if (dtype === 'f32') return f;
  const u = new Uint16Array(n); const b = new Uint32Array(f.buffer);
  for (let i = 0; i < n; i++) u[i] = b[i] >>> 16;
  return u;
}
function median(fn, minMs = 300) {
  for (let i = 0; i < 3; i++) fn();
  const times = [];
  const t0 = performance.now();
  while (performance.now() - t0 < minMs || times.length < 7) {
    const a = performance.now(); fn(); times.push(performance.now() - a);
  }
  times.sort((x, y) => x - y);
  return process.env.STAT === 'median' ? times[times.length >> 1] : times[0];
}
for (const dtype of ['f32', 'bf16'])
  for (const s of SHAPES) {
    if (only && !only.includes(s.shape)) continue;
    for (const style of ['half', 'interleaved']) {
      const q = fill(s.tokens * MODEL.qHeads * MODEL.headDim, dtype), k = fill(s.tokens * MODEL.kHeads * MODEL.headDim, dtype);
      const opts = { qHeads: 32, kHeads: 8, positions: s.start, dtype, threads: 1 };
      const o = { headDim: 128, base: 500000, style };
      const r = {};
      for (const e of ['js', 'wasm', ...(nativeAddon ? ['native'] : [])]) {
        const rope = createRope(o, e);
        r[e] = median(() => rope.applyQK(q, k, opts));
      }
      console.log(`${s.shape} ${style.padEnd(11)} ${dtype.padEnd(4)} js ${r.js.toFixed(4)}ms wasm ${r.wasm.toFixed(4)}ms native ${r.native?.toFixed(4)}ms  wasm/js speedup ${(r.js / r.wasm).toFixed(2)}x  native/wasm ${(r.wasm / r.native).toFixed(2)}x`);
    }
  }
