// Runtime smoke test (Node, Bun, Deno): sync, async, workers and errors through the public API,
// printed as one JSON line of hashes and error texts that must be identical on every runtime
// (scripts/test/test-runtimes.sh compares them with Node's). Run: <runtime> smoke-runtime.mjs BUNDLE
// where BUNDLE is lib/ as one ES module (scripts/test/test-runtimes.sh builds it; the addon is named by
// ROPE_SIMD_ADDON). Deterministic data; FNV-1a hashes (no crypto module needed).
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const bundle = isMainThread ? process.argv[2] : workerData.bundle;
const { Rope, backendInfo } = await import(bundle.startsWith('/') ? 'file://' + bundle : bundle);

function fnv(view) {
  const b = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}
function data(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}
const to16 = (f, bf) => Uint16Array.from(new Uint32Array(f.buffer), (b) => (bf ? b >>> 16 : 0x3c00 ^ (b >>> 22)));

// Every case rotates fresh data and returns its hash.
const D = 128, T = 7, H = 4;
const rope = new Rope({ headDim: D, base: 500000 });
const mrope = new Rope({ headDim: D, mropeSection: [16, 24, 24] });
const yarn = new Rope({ headDim: 64, scaling: { type: 'yarn', factor: 4, originalMaxPositions: 4096 } });
const cases = {
  f32: () => { const x = data(T * H * D, 1); rope.apply(x, { heads: H, positions: 11 }); return fnv(x); },
  bf16: () => { const x = to16(data(T * H * D, 2), true); rope.apply(x, { heads: H, positions: 3, dtype: 'bf16' }); return fnv(x); },
  f16: () => { const x = to16(data(T * H * D, 3), false); rope.apply(x, { heads: H, positions: 70000, dtype: 'f16' }); return fnv(x); },
  qk: () => { const q = data(T * H * D, 4), k = data(T * D, 5); rope.applyQK(q, k, { qHeads: H, kHeads: 1, positions: Int32Array.from({ length: T }, (_, i) => i * 9) }); return fnv(q) + fnv(k); },
  inverse: () => { const x = data(2 * T * H * D, 6); rope.apply(x, { heads: H, positions: 5, batch: 2, layout: 'bshd', inverse: true }); return fnv(x); },
  mrope: () => { const x = data(T * 2 * D, 7); mrope.apply(x, { heads: 2, positions: Int32Array.from({ length: 3 * T }, (_, i) => i * 3) }); return fnv(x); },
  yarn: () => { const x = data(T * 64, 8); yarn.apply(x, { heads: 1, positions: 100 }); return fnv(x); },
};
async function asyncCases() {
  const out = {};
  const x = data(T * H * D, 1);
  await rope.applyAsync(x, { heads: H, positions: 11 });
  out.asyncArrayBuffer = fnv(x);
  const s = new Float32Array(new SharedArrayBuffer(T * H * D * 4));
  s.set(data(T * H * D, 1));
  await rope.applyAsync(s, { heads: H, positions: 11 });
  out.asyncShared = fnv(s);
  const q = data(T * H * D, 4), k = data(T * D, 5);
  await rope.applyQKAsync(q, k, { qHeads: H, kHeads: 1, positions: Int32Array.from({ length: T }, (_, i) => i * 9) });
  out.asyncQK = fnv(q) + fnv(k);
  // An ArrayBuffer transferred while the call is pending: native rejects and writes nothing, the
  // JS engine has rotated already (the hash says which); never a crash.
  const y = data(T * H * D, 12);
  const p = rope.applyAsync(y, { heads: H, positions: 1 });
  const moved = structuredClone(y.buffer, { transfer: [y.buffer] });
  out.asyncTransferred = await p.then(() => 'resolved', (e) => `${e.constructor.name}: ${e.message}`);
  out.asyncTransferredBytes = fnv(new Float32Array(moved));
  return out;
}
// Mistakes: the error's class and message, which must not depend on the runtime.
function errors() {
  const x = data(2 * D, 9);
  const tries = {
    wrongLength: () => rope.apply(x.subarray(1), { heads: 1, positions: 0 }),
    negativePosition: () => rope.apply(x, { heads: 1, positions: -1 }),
    notAnArray: () => rope.apply([1, 2], { heads: 1, positions: 0 }),
    sameQK: () => rope.applyQK(x, x, { qHeads: 1, kHeads: 1, positions: 0 }),
    badBase: () => new Rope({ headDim: 64, base: 1e-300 }),
    badFactor: () => new Rope({ headDim: 64, scaling: { type: 'linear', factor: 1e-320 } }),
    oddHeadDim: () => new Rope({ headDim: 63 }),
  };
  const out = {};
  for (const [name, f] of Object.entries(tries)) {
    try {
      f();
      out[name] = 'no error';
    } catch (e) {
      out[name] = `${e.constructor.name}: ${e.message}`;
    }
  }
  const empty = new Float32Array(0);
  try {
    rope.apply(empty, { heads: 1, positions: 0 });
    out.emptyArray = 'no error';
  } catch (e) {
    out.emptyArray = `${e.constructor.name}: ${e.message}`;
  }
  out.unchanged = fnv(x) === fnv(data(2 * D, 9));
  return out;
}

if (!isMainThread && workerData.pendingThenTerminated) {
  // A worker with async calls pending when it is terminated (the parent does it at once).
  const x = data(4096 * H * D, 13);
  for (let i = 0; i < 3; i++) rope.applyAsync(x, { heads: H, positions: i }).catch(() => {});
  parentPort.postMessage('pending');
} else if (!isMainThread) {
  const out = {};
  for (const [name, f] of Object.entries(cases)) out[name] = f();
  Object.assign(out, await asyncCases());
  parentPort.postMessage(out);
} else {
  const sync = {};
  for (const [name, f] of Object.entries(cases)) sync[name] = f();
  const asyncOut = await asyncCases();
  const worker = await new Promise((resolve, reject) => {
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: { bundle } });
    w.once('message', (m) => {
      resolve(m);
      w.terminate();
    });
    w.once('error', reject);
  });
  const workerSame = JSON.stringify(worker) === JSON.stringify({ ...sync, ...asyncOut });
  let terminated = 0;
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve, reject) => {
      const w = new Worker(fileURLToPath(import.meta.url), { workerData: { bundle, pendingThenTerminated: true } });
      w.once('message', () => w.terminate().then(resolve, reject));
      w.once('error', reject);
    });
    terminated++;
  }
  console.log(JSON.stringify({ backend: backendInfo.backend, sync, async: asyncOut, workerSame, terminated, errors: errors() }));
}
