// Runs a fixed set of rotations through the package's public entry (dist/index.js) and prints one
// JSON line: backendInfo and a hash of every result's bytes. scripts/test/test-wasm-runtimes.sh runs it
// under Node, Deno and Bun with ROPE_SIMD_BACKEND=wasm and requires the same line from each; the
// page test (test/browser/) runs it in Chromium.
export function smoke(Rope) {
  // FNV-1a over the bytes of every result, in order.
  let h = 0x811c9dc5;
  const eat = (a) => {
    const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  };
  let s = 12345;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), (s / 2 ** 32) * 4 - 2);
  const f32 = (n) => Float32Array.from({ length: n }, rand);
  const u16 = (n, top) => Uint16Array.from({ length: n }, () => (top ? 0x3c00 : 0x3f00) + ((rand() * 4000) & 0x3ff));
  const cases = [];
  for (const style of ['half', 'interleaved']) {
    for (const dtype of ['f32', 'bf16', 'f16']) {
      // base 2^64: invFreq_j = 2^-j exactly. (Math.pow is not correctly rounded, and Node 20's V8
      // and Deno/Bun give base 500000 frequencies an ulp apart: this compares the engines alone.)
      const rope = new Rope({ headDim: 128, style, base: 2 ** 64, scaling: { type: 'linear', factor: 4 } });
      const make = (n) => (dtype === 'f32' ? f32(n) : u16(n, dtype === 'f16'));
      // decode, prefill (several pieces of module memory), per-token positions, inverse
      const q1 = make(32 * 128), k1 = make(8 * 128);
      rope.applyQK(q1, k1, { qHeads: 32, kHeads: 8, positions: 4095, dtype });
      const q2 = make(600 * 8 * 128), k2 = make(600 * 2 * 128);
      rope.applyQK(q2, k2, { qHeads: 8, kHeads: 2, positions: 0, dtype });
      const q3 = make(2 * 5 * 4 * 128);
      rope.apply(q3, { heads: 4, batch: 2, layout: 'bshd', positions: Int32Array.from([1, 9, 70000, 2 ** 31 - 1, 3, 4, 5, 6, 7, 8]), dtype });
      rope.apply(q3, { heads: 4, batch: 2, layout: 'bshd', positions: 17, dtype, inverse: true });
      for (const a of [q1, k1, q2, k2, q3]) eat(a);
      cases.push(`${style}/${dtype}`);
    }
  }
  const mrope = new Rope({ headDim: 64, base: 2 ** 32, mropeSection: [8, 12, 12] });
  const q = f32(3 * 2 * 64);
  mrope.apply(q, { heads: 2, positions: Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]) });
  eat(q);
  cases.push('mrope');
  return { hash: h.toString(16), cases: cases.length };
}

// As a program: `node scripts/test/smoke-wasm.mjs [path to dist/index.js]`.
const isMain = typeof process !== 'undefined' && process.argv?.[1] && import.meta.url.endsWith(process.argv[1].split('/').pop());
if (isMain) {
  const entry = process.argv[2] ?? new URL('../../dist/index.js', import.meta.url).href;
  const { Rope, backendInfo } = await import(entry.startsWith('/') ? `file://${entry}` : entry);
  console.log(JSON.stringify({ backendInfo, ...smoke(Rope) }));
}
