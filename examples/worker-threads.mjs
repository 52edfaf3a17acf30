// Two worker_threads rotate disjoint halves (by tokens) of one SharedArrayBuffer-backed q and k,
// each with its positions offset to where its half starts; the result matches one thread rotating
// everything, bit for bit. Run: npm run build:ts && node examples/worker-threads.mjs
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { Rope, backendInfo } from 'rope-simd';

// Llama-3-8B attention heads; 'shd' layout: token t's heads are contiguous.
const config = { headDim: 128, base: 500000, qHeads: 32, kHeads: 8, tokens: 1024, start: 100 };

/** Deterministic values in [-1, 1) (xorshift32), so the test can rebuild the same tensors. */
function fill(a, seed) {
  let s = seed;
  for (let i = 0; i < a.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return a;
}

function sharedTensor(heads, seed) {
  const n = config.tokens * heads * config.headDim;
  return fill(new Float32Array(new SharedArrayBuffer(n * 4)), seed);
}

function runWorker(q, k, tokenBegin, tokenEnd) {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./worker-threads-worker.mjs', import.meta.url), {
      workerData: { config, q: q.buffer, k: k.buffer, tokenBegin, tokenEnd },
    });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
  });
}

const sha = (...arrays) => {
  const h = createHash('sha256');
  for (const a of arrays) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
};

const q = sharedTensor(config.qHeads, 1);
const k = sharedTensor(config.kHeads, 2);
// The reference: the same tensors in plain memory, rotated by one thread in one call.
const refQ = fill(new Float32Array(q.length), 1);
const refK = fill(new Float32Array(k.length), 2);
new Rope({ headDim: config.headDim, base: config.base }).applyQK(refQ, refK, {
  qHeads: config.qHeads,
  kHeads: config.kHeads,
  positions: config.start,
  threads: 1,
});

const half = config.tokens / 2;
await Promise.all([runWorker(q, k, 0, half), runWorker(q, k, half, config.tokens)]);

const result = { backend: backendInfo.backend, ...config, sha256: sha(q, k), equal: sha(q, k) === sha(refQ, refK) };
console.log(JSON.stringify(result));
if (!result.equal) process.exitCode = 1;
