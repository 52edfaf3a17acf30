#!/usr/bin/env node
// The async rows of the benchmark: applyQKAsync next to applyQK, per engine (native, wasm, js) and
// buffer kind (ArrayBuffer, SharedArrayBuffer), at S3 and S4 (f32, half style, Llama-3-8B heads,
// threads 'auto'). For each: the sync call's time, the async call's total time (call to settled
// promise) and the longest gap a 1 ms setInterval saw in the event loop during the async call
// (the sync call's gap is its whole time). Medians of a few calls each.
//
//   node bench/async.mjs [--quick] [--shapes S3,S4] [--engines native,wasm,js] [--json FILE]
//
// bench/run.mjs calls runAsyncBench after its main table (same built package, dist/).

import fs from 'node:fs';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MODEL, SHAPES } from './systems.mjs';
import { median } from './stats.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const ASYNC_SHAPES = ['S3', 'S4'];
export const ASYNC_ENGINES = ['native', 'wasm', 'js'];
export const BUFFER_KINDS = ['ArrayBuffer', 'SharedArrayBuffer'];

function fill(a, seed) {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < a.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return a;
}

function makeArray(n, kind, seed) {
  const buf = kind === 'SharedArrayBuffer' ? new SharedArrayBuffer(n * 4) : new ArrayBuffer(n * 4);
  return fill(new Float32Array(buf), seed);
}

const tick = () => new Promise((r) => setImmediate(r));

// The previous row's arrays are garbage: collected before a row starts, not inside its window.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

/** One async call watched by a 1 ms interval: { totalMs, gapMs }. */
async function watched(call) {
  const ticks = [];
  const timer = setInterval(() => ticks.push(performance.now()), 1);
  await new Promise((r) => setTimeout(r, 3)); // the interval is running
  const start = performance.now();
  const n0 = ticks.length;
  await call();
  const end = performance.now();
  clearInterval(timer);
  let last = start;
  let gap = 0;
  for (const t of ticks.slice(n0)) {
    if (t > end) break;
    gap = Math.max(gap, t - last);
    last = t;
  }
  gap = Math.max(gap, end - last);
  return { totalMs: end - start, gapMs: gap };
}

/**
 * @param {{ internal: object, quick?: boolean, shapes?: string[], engines?: string[], progress?: (s: string) => void }} o
 * @returns {Promise<object[]>} rows { shape, engine, buffer, tokens, bytes, syncMs, asyncMs, gapMs, ratio, samples }
 */
export async function runAsyncBench({ internal, quick = false, shapes = ASYNC_SHAPES, engines = ASYNC_ENGINES, progress = () => {} }) {
  const { qHeads, kHeads, headDim, base } = MODEL;
  const rows = [];
  for (const engine of engines) {
    let rope;
    try {
      rope = internal.createRope({ headDim, base }, engine);
    } catch {
      continue; // not available in this build (the main table notes why)
    }
    for (const shape of shapes) {
      const s = SHAPES.find((x) => x.shape === shape);
      if (!s) throw new RangeError(`unknown shape ${shape}`);
      for (const buffer of BUFFER_KINDS) {
        progress(`async ${shape} ${engine} ${buffer}`);
        gc();
        const q = makeArray(s.tokens * qHeads * headDim, buffer, 1);
        const k = makeArray(s.tokens * kHeads * headDim, buffer, 2);
        const opts = { qHeads, kHeads, positions: s.start };
        // Slow engines at S4 (the JS engine: ~0.1 s a call) get fewer calls.
        const probe = performance.now();
        rope.applyQK(q, k, opts);
        const one = performance.now() - probe;
        const reps = Math.max(3, Math.min(quick ? 5 : 15, Math.floor((quick ? 400 : 1500) / Math.max(one, 0.1))));
        await rope.applyQKAsync(q, k, opts); // warm (JIT, caches, slice sizes)
        const sync = [];
        const total = [];
        const gap = [];
        // Interleaved: a burst of other work on the shared cores hits both kinds alike.
        for (let r = 0; r < reps; r++) {
          await tick();
          const t0 = performance.now();
          rope.applyQK(q, k, opts);
          sync.push(performance.now() - t0);
          await tick();
          const w = await watched(() => rope.applyQKAsync(q, k, opts));
          total.push(w.totalMs);
          gap.push(w.gapMs);
        }
        if (!Number.isFinite(q[0]) || !Number.isFinite(k[k.length - 1])) throw new Error(`async ${shape} ${engine}: data became non-finite`);
        const syncMs = median(sync);
        const asyncMs = median(total);
        rows.push({
          shape,
          engine,
          buffer,
          tokens: s.tokens,
          bytes: (q.byteLength + k.byteLength),
          syncMs,
          asyncMs,
          gapMs: median(gap),
          maxGapMs: Math.max(...gap),
          ratio: asyncMs / syncMs,
          samples: { sync, total, gap },
        });
      }
    }
  }
  return rows;
}

const fmt = (v, d = 2) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(d));

/** The rows as a text table. */
export function formatAsync(rows) {
  const head = ['shape', 'engine', 'buffer', 'sync ms', 'async ms', 'async/sync', 'loop gap ms', 'worst gap'];
  const body = rows.map((r) => [r.shape, r.engine, r.buffer === 'SharedArrayBuffer' ? 'SAB' : 'ArrayBuffer', fmt(r.syncMs), fmt(r.asyncMs), r.ratio.toFixed(2) + 'x', fmt(r.gapMs), fmt(r.maxGapMs)]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i < 3 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [
    'async: applyQKAsync vs applyQK (f32, half, threads auto; medians; loop gap = longest pause a 1 ms timer saw during the async call; the sync call blocks for its whole time)',
    line(head),
    ...body.map(line),
  ].join('\n');
}

/** The async targets (S4): loop gap <= 2 ms (must 4), total <= 1.3x sync for ArrayBuffers (must
 * 1.6x), <= 1.1x for SharedArrayBuffers (must 1.5x). */
export function checkAsyncTargets(rows) {
  const out = [];
  for (const r of rows.filter((x) => x.shape === 'S4')) {
    const sab = r.buffer === 'SharedArrayBuffer';
    const [goal, must] = sab ? [1.1, 1.5] : [1.3, 1.6];
    const name = `S4 ${r.engine} ${sab ? 'SAB' : 'ArrayBuffer'}`;
    out.push({ id: `async-gap ${name}`, goal: 2, must: 4, value: r.gapMs, ok: r.gapMs <= 2, mustOk: r.gapMs <= 4 });
    out.push({ id: `async-total ${name}`, goal, must, value: r.ratio, ok: r.ratio <= goal, mustOk: r.ratio <= must });
  }
  return out;
}

export function formatAsyncTargets(targets) {
  return [
    'async targets (S4): gap ms <= 2 (must 4); async/sync <= 1.3x ArrayBuffer (must 1.6x), <= 1.1x SAB (must 1.5x)',
    ...targets.map((t) => `  ${t.ok ? 'met ' : t.mustOk ? 'must' : 'MISS'}  ${t.id.padEnd(34)} ${t.value.toFixed(2)} (goal ${t.goal}, must ${t.must})`),
  ].join('\n');
}

async function main() {
  const argv = process.argv.slice(2);
  const arg = (name) => {
    const i = argv.indexOf(name);
    return i < 0 ? null : argv[i + 1];
  };
  const shapes = arg('--shapes')?.split(',') ?? ASYNC_SHAPES;
  const engines = arg('--engines')?.split(',') ?? ASYNC_ENGINES;
  // --lib FILE: an ES module exporting createRope (a bundle of lib/ while developing); default dist/.
  const lib = arg('--lib') ?? path.join(root, 'dist', 'internal.js');
  const internal = await import(pathToFileURL(path.resolve(lib)).href);
  const rows = await runAsyncBench({ internal, quick: argv.includes('--quick'), shapes, engines, progress: (s) => process.stderr.write(`${s}\n`) });
  console.log(formatAsync(rows));
  console.log(formatAsyncTargets(checkAsyncTargets(rows)));
  const json = arg('--json');
  if (json) fs.writeFileSync(json, JSON.stringify(rows, null, 1) + '\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e.stack ?? e);
    process.exit(1);
  });
}
