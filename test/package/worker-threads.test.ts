// examples/worker-threads.mjs: two worker_threads rotate disjoint token halves of one
// SharedArrayBuffer-backed q and k (positions offset to each half's start). The example compares
// with its own single-thread run; here the result's hash is also checked against a single-thread
// run of lib/ in this process, on tensors rebuilt from the example's documented generator.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { backendInfo } from '../../lib/backend.js';
import { Rope } from '../../lib/rope.js';
import { ensureDist } from '../helpers/dist.js'; // the example imports 'rope-simd' (dist/)

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// The example's generator (xorshift32 in [-1, 1)), written out again.
function fill(a: Float32Array, seed: number): Float32Array {
  let s = seed;
  for (let i = 0; i < a.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return a;
}

interface Result {
  backend: string;
  headDim: number;
  base: number;
  qHeads: number;
  kHeads: number;
  tokens: number;
  start: number;
  sha256: string;
  equal: boolean;
}

describe('worker_threads over a SharedArrayBuffer (examples/worker-threads.mjs)', () => {
  let run: { status: number | null; out: string; err: string };
  beforeAll(() => {
    ensureDist();
    const env = { ...process.env };
    // The package's own loader, as a user runs it; under scripts/test/test-asan.sh the sanitized build.
    if (!process.env.ROPE_SIMD_SANITIZED) delete env.ROPE_SIMD_ADDON;
    const r = spawnSync(process.execPath, [join(root, 'examples', 'worker-threads.mjs')], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    run = { status: r.status, out: r.stdout, err: r.stderr };
  }, 180_000); // may wait for a dist/ build

  it('runs on the same backend as this process and matches its own single-thread run', () => {
    expect(run.err).toBe('');
    expect(run.status).toBe(0);
    const r = JSON.parse(run.out) as Result;
    expect(r.backend).toBe(backendInfo.backend);
    expect(r.equal).toBe(true);
  });

  it("the two halves' result equals one thread rotating everything here, bit for bit", () => {
    const r = JSON.parse(run.out) as Result;
    const q = fill(new Float32Array(r.tokens * r.qHeads * r.headDim), 1);
    const k = fill(new Float32Array(r.tokens * r.kHeads * r.headDim), 2);
    const before = createHash('sha256').update(new Uint8Array(q.buffer)).update(new Uint8Array(k.buffer)).digest('hex');
    new Rope({ headDim: r.headDim, base: r.base }).applyQK(q, k, { qHeads: r.qHeads, kHeads: r.kHeads, positions: r.start, threads: 1 });
    const after = createHash('sha256').update(new Uint8Array(q.buffer)).update(new Uint8Array(k.buffer)).digest('hex');
    expect(after).not.toBe(before); // the rotation did something
    expect(r.sha256).toBe(after);
  });
});
