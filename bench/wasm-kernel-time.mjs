// The wasm module's walk alone (no copies, no facade): rope_apply on rows already in module
// memory, Llama-3 shapes (32 q + 8 kv heads x 128, base 500000), min and median per cell. The
// descriptor is native/wasm/entry.cc's (lib/abi.ts's 20 slots + 7): keep in step with it.
//   taskset -c 1 node bench/wasm-kernel-time.mjs [module.wasm]   (default: the committed one)
import { readFileSync } from 'node:fs';
const file = process.argv[2] ?? new URL('../prebuilds/wasm/rope-simd.wasm', import.meta.url);
const stub = () => 52; // ENOSYS, as lib/engine-wasm.ts
const { instance } = await WebAssembly.instantiate(readFileSync(file), { wasi_snapshot_preview1: { fd_close: stub, fd_seek: stub, fd_write: stub } });
const x = instance.exports;
const inv = Float64Array.from({ length: 64 }, (_, j) => Math.pow(500000, (-2 * j) / 128));
let sd = 0x9e3779b9;
const rnd = () => ((sd ^= sd << 13), (sd ^= sd >>> 17), (sd ^= sd << 5), ((sd >>> 0) / 4294967296) * 2 - 1);
const f1 = new Float32Array(1), b1 = new Uint32Array(f1.buffer);
for (const [dt, size] of [[0, 4], [2, 2]])
  for (const [S, T, start] of [['S2', 16, 4080], ['S3', 512, 0], ['S4', 4096, 0]])
    for (const style of [0, 1]) {
      const h = x.rope_new(128, 128, style, 0, 1);
      const qn = T * 32 * 128, kn = T * 8 * 128;
      const q = x.rope_alloc(qn * size), k = x.rope_alloc(kn * size), d = x.rope_alloc(27 * 8 + 64 * 8);
      const f32 = new Float32Array(x.memory.buffer), u16 = new Uint16Array(x.memory.buffer), f64 = new Float64Array(x.memory.buffer);
      for (const [p, n] of [[q, qn], [k, kn]])
        for (let i = 0; i < n; i++) size === 4 ? (f32[p / 4 + i] = rnd()) : ((f1[0] = rnd()), (u16[p / 2 + i] = b1[0] >>> 16));
      // batch 1, T tokens from `start`, threads 1, scale 1; q: 32 heads 'shd'; k: 8; then pointers.
      f64.set([1, T, 0, start, 0, 0, 1, 1, dt, 32, 0, 0, 32 * 128, 128, dt, 8, 0, 0, 8 * 128, 128, q, k, 0, d + 27 * 8, qn, kn, 1], d / 8);
      f64.set(inv, d / 8 + 27);
      for (let i = 0; i < 5; i++) x.rope_apply(h, d);
      const times = [];
      const t0 = performance.now();
      while (performance.now() - t0 < 400 || times.length < 9) {
        const a = performance.now();
        x.rope_apply(h, d);
        times.push(performance.now() - a);
      }
      times.sort((a, b) => a - b);
      const us = (v) => `${(v * 1000).toFixed(1)}us`;
      console.log(`${S} ${style ? 'interleaved' : 'half       '} ${dt ? 'bf16' : 'f32 '} walk min ${us(times[0])} median ${us(times[times.length >> 1])}`);
      x.rope_free(q), x.rope_free(k), x.rope_free(d), x.rope_delete(h);
    }
