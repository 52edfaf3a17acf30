// The wasm engine's speed against the JS engine (and native) at the benchmark's shapes, before
// bench/ has wasm rows: applyQK, threads 1; 'wasm' copies the rows into module memory and back,
// 'wasm0' has q and k in wasmArrays (rotated in place). The js and wasm calls alternate (one call
// of each per round, for at least MS ms, default 1500) so that load from elsewhere on the machine
// hits them alike (the ratio is what matters); native runs after them, alone, for reference;
// medians (STAT=min: minimums).
//   npm run build:ts && taskset -c 1 node bench/wasm-ratio.mjs [S2,S3,S4]
import * as lib from '../dist/internal.js';
const { createRope, nativeAddon } = lib;
const MODEL = { qHeads: 32, kHeads: 8, headDim: 128, base: 500000 };
const SHAPES = [
  { shape: 'S1', tokens: 1, start: 4095 },
  { shape: 'S2', tokens: 16, start: 4080 },
  { shape: 'S3', tokens: 512, start: 0 },
  { shape: 'S4', tokens: 4096, start: 0 },
];
const only = process.argv[2]?.split(',');
const MS = Number(process.env.MS ?? 1500);
function fill(n, dtype) {
  let s = 0x9e3779b9;
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; f[i] = ((s >>> 0) / 4294967296) * 2 - 1; }
  if (dtype === 'f32') return f;
  const u = new Uint16Array(n); const b = new Uint32Array(f.buffer);
  for (let i = 0; i < n; i++) u[i] = b[i] >>> 16;
  return u;
}
const stat = (t) => (t.sort((x, y) => x - y), process.env.STAT === 'min' ? t[0] : t[t.length >> 1]);
for (const dtype of ['f32', 'bf16'])
  for (const s of SHAPES) {
    if (only && !only.includes(s.shape)) continue;
    for (const style of ['half', 'interleaved']) {
      const q = fill(s.tokens * MODEL.qHeads * MODEL.headDim, dtype), k = fill(s.tokens * MODEL.kHeads * MODEL.headDim, dtype);
      const opts = { qHeads: 32, kHeads: 8, positions: s.start, dtype, threads: 1 };
      const o = { headDim: 128, base: 500000, style };
      const calls = {};
      for (const e of ['js', 'wasm']) {
        const rope = createRope(o, e);
        calls[e] = () => rope.applyQK(q, k, opts);
      }
      const arrays = [];
      if (lib.wasmArray) {
        const [qa, ka] = [lib.wasmArray(q.length, dtype), lib.wasmArray(k.length, dtype)];
        qa.array.set(q);
        ka.array.set(k);
        arrays.push(qa, ka);
        const rope = createRope(o, 'wasm');
        calls.wasm0 = () => rope.applyQK(qa.array, ka.array, opts);
      }
      const times = Object.fromEntries(Object.keys(calls).map((e) => [e, []]));
      for (const e in calls) for (let i = 0; i < 3; i++) calls[e]();
      const t0 = performance.now();
      while (performance.now() - t0 < MS || times.js.length < 9) {
        for (const e in calls) { const a = performance.now(); calls[e](); times[e].push(performance.now() - a); }
      }
      for (const a of arrays) a.free();
      if (nativeAddon) {
        const rope = createRope(o, 'native');
        for (let i = 0; i < 3; i++) rope.applyQK(q, k, opts);
        const t = [];
        const t1 = performance.now();
        while (performance.now() - t1 < MS / 3 || t.length < 9) { const a = performance.now(); rope.applyQK(q, k, opts); t.push(performance.now() - a); }
        times.native = t;
      }
      const r = Object.fromEntries(Object.entries(times).map(([e, t]) => [e, stat(t)]));
      const zero = r.wasm0 !== undefined ? `  wasm0 ${r.wasm0.toFixed(4)}ms (${(r.js / r.wasm0).toFixed(2)}x)` : '';
      console.log(`${s.shape} ${style.padEnd(11)} ${dtype.padEnd(4)} js ${r.js.toFixed(4)}ms wasm ${r.wasm.toFixed(4)}ms native ${r.native?.toFixed(4)}ms  wasm/js speedup ${(r.js / r.wasm).toFixed(2)}x  native/wasm ${(r.wasm / r.native).toFixed(2)}x${zero}`);
    }
  }
