#!/usr/bin/env node
// How fast this runtime copies a Float32Array into WebAssembly memory and back: the price the
// wasm engine pays per call for arrays outside its memory (docs/maintainers/benchmark.md, "WebAssembly >= 4x
// JS"). Median of 30 rounds of 200 copies per size, wall time; bytes copied per second.
//   node bench/copies.mjs [KiB ...]   (default 16 64 128 320 1024)
const sizes = process.argv.slice(2).map(Number);
for (const kib of sizes.length ? sizes : [16, 64, 128, 320, 1024]) {
  const n = (kib * 1024) / 4;
  const src = new Float32Array(n).fill(1.5);
  const mem = new WebAssembly.Memory({ initial: Math.ceil((n * 4 + 1024) / 65536) + 1 });
  const dst = new Float32Array(mem.buffer, 1024, n);
  const bsrc = Buffer.from(src.buffer), bdst = Buffer.from(mem.buffer, 1024, n * 4);
  const systems = {
    'Float32Array set': () => dst.set(src),
    'Uint8Array set': () => new Uint8Array(mem.buffer, 1024, n * 4).set(new Uint8Array(src.buffer)),
    'Buffer copy': () => bsrc.copy(bdst, 0),
  };
  const samples = Object.fromEntries(Object.keys(systems).map((k) => [k, []]));
  for (let r = 0; r < 30; r++)
    for (const [k, f] of Object.entries(systems)) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 200; i++) f();
      samples[k].push(Number(process.hrtime.bigint() - t0) / 200);
    }
  const line = Object.entries(samples).map(([k, v]) => {
    const m = v.sort((a, b) => a - b)[v.length >> 1];
    return `${k} ${((n * 4) / m).toFixed(1)} GB/s`;
  });
  console.log(`${String(kib).padStart(5)} KiB: ${line.join(', ')}`);
}
