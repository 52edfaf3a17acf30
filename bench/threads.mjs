#!/usr/bin/env node
// The threads rows of the benchmark: applyQK (f32, half style, Llama-3-8B heads) at S3 and S4 with
// threads = 1, 2, 'auto' on the native engine; speedup over one thread and the fraction of the
// 2-thread memory limit (the in-place x1.0 pass, addon.limitPass(array, dtype, factor, 2), on
// the same bytes). Also the crossover sweep behind native/auto_threads.h's kAutoMinBytes.
//
//   node bench/threads.mjs [--quick] [--crossover]     (uses the built package, dist/)
//
// bench/run.mjs no longer calls runThreadsBench: its threads rows are systems of the main cells
// (one measurement per configuration); this file is the standalone tool and the crossover sweep.

import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadLimitAddon } from './limit-addon.mjs';
import { MODEL, SHAPES } from './systems.mjs';
import { formatNs, gbps, median, sig3 } from './stats.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function loadInternal() {
  return import(pathToFileURL(path.join(root, 'dist', 'internal.js')).href);
}

function inputs(n) {
  let s = 0x9e3779b9;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return a;
}

/** ns per call of fn over `reps` samples of enough calls to last about sampleNs each: the median,
 * or with best: true the fastest sample (on a shared machine: the run that had both cores). */
function timeIt(fn, { reps, sampleNs, warm = 3, best = false }) {
  for (let i = 0; i < warm; i++) fn();
  let t0 = process.hrtime.bigint();
  fn();
  const est = Math.max(1, Number(process.hrtime.bigint() - t0));
  const calls = Math.max(1, Math.min(100000, Math.ceil(sampleNs / est)));
  const samples = [];
  for (let r = 0; r < reps; r++) {
    t0 = process.hrtime.bigint();
    for (let c = 0; c < calls; c++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) / calls);
  }
  return best ? Math.min(...samples) : median(samples);
}

/**
 * @param {{ quick?: boolean, progress?: (msg: string) => void, internal?: object }} options
 * @returns {Promise<{ rows: object[], table: string, skipped?: string }>}
 */
export async function runThreadsBench({ quick = false, progress = () => {}, internal } = {}) {
  internal ??= await loadInternal();
  const { addon, reason } = await loadLimitAddon(internal);
  if (!addon) {
    const skipped = reason;
    return { rows: [], table: `threads: skipped (${skipped})`, skipped };
  }
  const plan = quick ? { reps: 5, sampleNs: 50e6 } : { reps: 15, sampleNs: 150e6 };
  const { qHeads, kHeads, headDim, base } = MODEL;
  const rope = internal.createRope({ headDim, base, style: 'half' }, 'native');
  const rows = [];
  for (const s of SHAPES.filter((x) => x.shape === 'S3' || x.shape === 'S4')) {
    const q = inputs(s.tokens * qHeads * headDim);
    const k = inputs(s.tokens * kHeads * headDim);
    const bytes = (q.length + k.length) * 4;
    progress(`threads: ${s.shape} limit pass`);
    const limit = timeIt(() => {
      addon.limitPass(q, 0, 1.0, 2);
      addon.limitPass(k, 0, 1.0, 2);
    }, plan);
    const ns = {};
    for (const threads of [1, 2, 'auto']) {
      progress(`threads: ${s.shape} threads=${threads}`);
      const opts = { qHeads, kHeads, positions: s.start, threads };
      ns[threads] = timeIt(() => rope.applyQK(q, k, opts), plan);
    }
    for (const threads of [1, 2, 'auto']) {
      rows.push({
        id: `${s.shape} half f32 threads=${threads}`,
        shape: s.shape,
        threads,
        bytes,
        ns: ns[threads],
        gbps: gbps(bytes, ns[threads]),
        speedup: ns[1] / ns[threads],
        limitNs: limit,
        fracLimit2: limit / ns[threads],
      });
    }
  }
  const head = ['cell', 'time/call', 'GB/s', 'speedup vs 1', 'of 2-thread limit'];
  const body = rows.map((r) => [r.id, formatNs(r.ns), sig3(r.gbps), `${sig3(r.speedup)}x`, sig3(r.fracLimit2)]);
  const limits = rows
    .filter((r) => r.threads === 1)
    .map((r) => `${r.shape} 2-thread limit ${formatNs(r.limitNs)} (${sig3(gbps(r.bytes, r.limitNs))} GB/s)`);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cols) => cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const s3 = rows.find((r) => r.shape === 'S3' && r.threads === 2);
  const target = s3 ? `target: threads=2 >= 1.5x at S3: ${sig3(s3.speedup)}x ${s3.speedup >= 1.5 ? 'PASS' : 'FAIL'}` : '';
  const table = [line(head), ...body.map(line), limits.join('; '), target].join('\n');
  return { rows, table };
}

/** The sweep behind kAutoMinBytes: speedup of threads=2 over 1 by tokens (32 q + 8 k heads). */
export async function runCrossover({ quick = false, internal } = {}) {
  internal ??= await loadInternal();
  const { qHeads, kHeads, headDim, base } = MODEL;
  const rope = internal.createRope({ headDim, base, style: 'half' }, 'native');
  const plan = quick ? { reps: 9, sampleNs: 10e6, warm: 20, best: true } : { reps: 31, sampleNs: 10e6, warm: 50, best: true };
  const out = [];
  for (const tokens of [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 128, 256, 1024, 4096]) {
    const q = inputs(tokens * qHeads * headDim);
    const k = inputs(tokens * kHeads * headDim);
    const t1 = timeIt(() => rope.applyQK(q, k, { qHeads, kHeads, positions: 0, threads: 1 }), plan);
    const t2 = timeIt(() => rope.applyQK(q, k, { qHeads, kHeads, positions: 0, threads: 2 }), plan);
    const ta = timeIt(() => rope.applyQK(q, k, { qHeads, kHeads, positions: 0, threads: 'auto' }), plan);
    out.push({ tokens, bytes: (q.length + k.length) * 4, t1, t2, tauto: ta, speedup2: t1 / t2 });
  }
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  if (process.argv.includes('--crossover')) {
    console.log('tokens  KiB  threads=1  threads=2  auto  speedup(2 vs 1)');
    for (const r of await runCrossover({ quick })) {
      console.log(
        `${String(r.tokens).padStart(6)} ${String(Math.round(r.bytes / 1024)).padStart(6)}  ${formatNs(r.t1).padStart(9)}  ${formatNs(r.t2).padStart(9)}  ${formatNs(r.tauto).padStart(9)}  ${sig3(r.speedup2)}x`,
      );
    }
  } else {
    const { table } = await runThreadsBench({ quick, progress: (m) => process.stderr.write(`${m}\n`) });
    console.log(table);
  }
}
