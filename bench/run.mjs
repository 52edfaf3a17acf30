#!/usr/bin/env node
// npm run bench: applyQK in place on Llama-3-8B attention shapes, native (each ISA) vs the package's
// JS engine vs hand-written JS, against the machine's in-place memory limit. Runs the BUILT package
// (dist/), as a user would; rebuilds it first when dist is missing or older than lib/.
//
//   node bench/run.mjs [--quick] [--out DIR] [--json FILE] [--shapes S1,S3] [--no-build] [--markdown]
//
// Every configuration is measured once, in one table of cells; the threads and async rows are
// systems of those cells, so every other table (threads, targets, chart) reuses the same numbers.
// Results go to --out DIR (default: <os tmpdir>/rope-simd-bench; never into the source tree).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ASYNC_SHAPES, checkAsyncTargets, formatAsync, formatAsyncTargets, runAsyncBench } from './async.mjs';
import { bf16ToF32 } from './baselines.mjs';
import { renderChart } from './chart.mjs';
import { KV_SHAPES, checkKvCacheTargets, formatKvCache, runKvCacheBench } from './kv-cache.mjs';
import { cellMetrics, checkTargets, formatMarkdown, formatTable, formatTargets, formatThreads, threadsRows } from './report.mjs';
import { callsPerSample } from './stats.mjs';
import { formatSummary, LEGEND } from './summary.mjs';
import { loadLimitAddon } from './limit-addon.mjs';
import { SHAPES, buildSystems, makeCells, makeContext, makeInputs, restoreIsa } from './systems.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const args = { quick: false, json: null, out: null, shapes: null, build: true, markdown: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--json') args.json = argv[++i];
    else if (a === '--out') args.out = argv[++i];
    else if (a === '--shapes') args.shapes = argv[++i].split(',');
    else if (a === '--no-build') args.build = false;
    else if (a === '--markdown') args.markdown = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node bench/run.mjs [--quick] [--out DIR] [--json FILE] [--shapes S1,S2,S3,S4] [--no-build] [--markdown]');
      process.exit(0);
    } else throw new RangeError(`unknown argument ${a} (try --help)`);
  }
  if (args.json === undefined) throw new RangeError('--json needs a file name');
  if (args.out === undefined) throw new RangeError('--out needs a directory');
  const known = SHAPES.map((s) => s.shape);
  for (const s of args.shapes ?? [])
    if (!known.includes(s)) throw new RangeError(`--shapes: unknown shape '${s}', expected some of ${known.join(',')}`);
  return args;
}

// Budgets: full run well under 5 minutes on 2 cores, --quick under a minute (CI smoke run).
const PLAN = {
  full: { reps: 25, minReps: 3, systemBudgetNs: 4e9, warmNs: 40e6, sampleNs: 1e6 },
  quick: { reps: 7, minReps: 1, systemBudgetNs: 0.6e9, warmNs: 25e6, sampleNs: 0.5e6 },
};
const BATCH_BELOW_NS = 50e3; // calls shorter than this are timed in batches

/** Rebuild dist/ when it is missing or older than any source it is built from. */
function ensureBuilt() {
  const target = path.join(root, 'dist', 'internal.js');
  const newest = (dir) => {
    let t = 0;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
    }
    return t;
  };
  const srcTime = Math.max(newest(path.join(root, 'lib')), fs.statSync(path.join(root, 'tsup.config.ts')).mtimeMs);
  if (fs.existsSync(target) && fs.statSync(target).mtimeMs >= srcTime) return;
  process.stderr.write('dist/ is missing or stale: building with tsup...\n');
  const r = spawnSync(path.join(root, 'node_modules', '.bin', 'tsup'), [], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`tsup failed (exit ${r.status}); run npm run build:ts to see why`);
}

const progress = {
  tty: process.stderr.isTTY,
  t0: Date.now(),
  show(text, plain) {
    const t = `${((Date.now() - this.t0) / 1000).toFixed(1)}s`.padStart(7);
    if (this.tty) process.stderr.write(`\r\x1b[K${t} ${text}`);
    else if (plain) process.stderr.write(`${t} ${text}\n`);
  },
  done() {
    if (this.tty) process.stderr.write('\r\x1b[K');
  },
};

// An async system (runAsync) is timed call by call, each awaited: the latency a caller sees.
async function timeSample(sys, n) {
  if (sys.before) sys.before();
  if (sys.runAsync) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await sys.runAsync();
    return Number(process.hrtime.bigint() - t0) / n;
  }
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sys.run();
  return Number(process.hrtime.bigint() - t0) / n;
}

/** Warm a system up (JIT, caches, page faults) and estimate one call's time. */
async function calibrate(sys, plan) {
  const first = await timeSample(sys, 1);
  // A call this long has run on smaller shapes already (JIT warm); more warm-up only costs time.
  if (first > 100e6) return first;
  let n = 1;
  let spent = first;
  let est = first;
  for (let it = 0; spent < plan.warmNs || it < 3; it++) {
    const t = await timeSample(sys, n);
    spent += t * n;
    // The fastest batch: a neighbour's burst on the shared cores must not inflate the estimate.
    est = Math.min(est, t);
    if (t * n < 1e6 && n < 1e5) n *= 2;
  }
  return est;
}

/** All systems of one cell: warm-up, then interleaved rounds (A B C, C A B, B C A ...). */
async function measureCell(cell, systems, plan, label) {
  const est = {};
  const calls = {};
  const maxReps = {};
  for (const s of systems) {
    progress.show(`${label} warm-up ${s.id}`, false);
    est[s.id] = await calibrate(s, plan);
    calls[s.id] = est[s.id] < BATCH_BELOW_NS ? callsPerSample(est[s.id], plan.sampleNs) : 1;
    const sampleNs = est[s.id] * calls[s.id];
    maxReps[s.id] = Math.max(plan.minReps, Math.min(plan.reps, Math.floor(plan.systemBudgetNs / sampleNs)));
  }
  const samples = Object.fromEntries(systems.map((s) => [s.id, []]));
  const rounds = Math.max(...Object.values(maxReps));
  // Each round in another order (a seeded shuffle), so that no system always runs right after the
  // same neighbour: what a system leaves in the caches (the whole of S3 after an in-place pass, or
  // another 10 MiB after the wasm rows' copies) decides how fast the next one starts. (Rotating one
  // fixed order kept every system behind the same neighbour, and at S3 the rotation, always right
  // after the limit pass, beat that pass by up to 1.3x.)
  let seed = 0x2545f491;
  const rand = (n) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const order = systems.slice();
  for (let r = 0; r < rounds; r++) {
    progress.show(`${label} round ${r + 1}/${rounds}`, false);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rand(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const s of order) {
      if (samples[s.id].length < maxReps[s.id]) samples[s.id].push(await timeSample(s, calls[s.id]));
    }
  }
  return { samples, calls };
}

/** Every system on fresh copies of the same input must give the naive result (f16, which has no
 * naive version: the JS engine's, bit for bit, as the package promises): a guard against
 * benchmarking a no-op or a wrong kernel. */
async function agreementCheck(ctx, cell) {
  const ref = makeInputs(cell);
  const refId = cell.dtype === 'f16' ? 'js' : 'naive';
  const refSys = buildSystems(ctx, cell, ref.q, ref.k).find((s) => s.id === refId);
  refSys.run();
  const decode = cell.dtype === 'bf16' ? bf16ToF32 : (v) => v;
  const tol = { f32: 1e-5, bf16: 1 / 128, f16: 0 }[cell.dtype];
  const out = {};
  for (const id of buildSystems(ctx, cell, ref.q, ref.k).map((s) => s.id)) {
    if (id === refId || id.startsWith('limit')) continue;
    const x = makeInputs(cell);
    const s = buildSystems(ctx, cell, x.q, x.k).find((t) => t.id === id);
    if (s.before) s.before();
    if (s.runAsync) await s.runAsync();
    else s.run();
    if (s.after) s.after();
    let maxDiff = 0;
    for (const [a, b] of [
      [x.q, ref.q],
      [x.k, ref.k],
    ])
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(decode(a[i]) - decode(b[i])));
    out[id] = { maxDiff, ok: maxDiff <= tol };
  }
  return out;
}

function cpuSlug(model) {
  return (
    model
      .toLowerCase()
      .replace(/\((r|tm)\)/g, '')
      .replace(/\b(processor|cpu)\b/g, '')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'cpu'
  );
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const plan = args.quick ? PLAN.quick : PLAN.full;
  if (args.build) ensureBuilt();
  const internal = await import(pathToFileURL(path.join(root, 'dist', 'internal.js')).href);
  const ctx = makeContext(internal, await loadLimitAddon(internal));
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  const now = new Date();
  const meta = {
    cpu,
    cores: os.cpus().length,
    date: now.toISOString().slice(0, 10),
    time: now.toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    quick: args.quick,
    command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    backendInfo: ctx.backendInfo,
    isas: ctx.isas,
    nativeOk: ctx.nativeOk,
    nativeError: ctx.nativeError,
    plan,
    loadavgBefore: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
  console.log(`rope-simd bench on ${cpu} (${meta.cores} cores), node ${process.version}, ${meta.date}${args.quick ? ', quick' : ''}`);
  console.log(`backend: ${JSON.stringify(ctx.backendInfo)}`);
  // Other processes on the cores skew every number: say so (the JSON keeps the load averages).
  if (meta.loadavgBefore[0] > 0.5 * meta.cores)
    console.log(`note: load average ${meta.loadavgBefore[0]} on ${meta.cores} cores: other work is running, expect noisy numbers`);
  for (const note of ctx.engineNotes ?? []) console.log(`engine row left out: ${note}`);
  if (ctx.nativeOk) console.log(`native ISAs measured: ${ctx.isas.join(', ')}`);
  else console.log(`native engine unavailable (${ctx.nativeError}): measuring the JS systems only, no limit line`);
  if (ctx.nativeOk && !ctx.limitAddon) console.log(`no limit line: ${ctx.limitNote}`);

  const cells = makeCells(args.shapes);
  const systemsSeen = new Map();
  const checks = {};
  const t0 = Date.now();
  for (const [i, cell] of cells.entries()) {
    const label = `[${String(i + 1).padStart(2)}/${cells.length}] ${cell.id}`;
    progress.show(label, true);
    if (cell.shape !== 'S4') checks[cell.id] = await agreementCheck(ctx, cell);
    const { q, k } = makeInputs(cell);
    const systems = buildSystems(ctx, cell, q, k).filter((s) => !s.shapes || s.shapes.includes(cell.shape));
    for (const s of systems) if (!systemsSeen.has(s.id)) systemsSeen.set(s.id, { id: s.id, kind: s.kind, label: s.label });
    const { samples, calls } = await measureCell(cell, systems, plan, label);
    cell.results = cellMetrics(cell, systems, samples, calls);
    // Rotations keep norms, so the data must still be finite after every repetition.
    if (!Number.isFinite(q[0]) || !Number.isFinite(k[k.length - 1])) throw new Error(`${cell.id}: data became non-finite`);
  }
  restoreIsa(ctx);
  // The async rows: applyQKAsync's total time and longest event-loop gap next to applyQK, per
  // engine and buffer kind (bench/async.mjs).
  const asyncShapes = ASYNC_SHAPES.filter((s) => !args.shapes || args.shapes.includes(s));
  const asyncRows = asyncShapes.length ? await runAsyncBench({ internal, quick: args.quick, shapes: asyncShapes, progress: (t) => progress.show(t, true) }) : [];
  // The KV-cache rows: applyQK with its cache option against applyQK alone and the unfused JS
  // sequence (bench/kv-cache.mjs).
  const kvShapes = KV_SHAPES.map((s) => s.shape).filter((s) => !args.shapes || args.shapes.includes(s));
  const kvRows = kvShapes.length ? await runKvCacheBench({ internal, quick: args.quick, shapes: kvShapes, progress: (t) => progress.show(t, true) }) : [];
  progress.done();
  meta.seconds = Math.round((Date.now() - t0) / 100) / 10;
  meta.loadavgAfter = os.loadavg().map((x) => Math.round(x * 100) / 100);

  const results = { meta, systems: [...systemsSeen.values()], cells, checks, async: asyncRows, asyncTargets: checkAsyncTargets(asyncRows), kvCache: kvRows, kvCacheTargets: checkKvCacheTargets(kvRows) };
  // Threads and async rows: read off the cells (the same samples as the main table).
  results.threads = threadsRows(cells, meta);
  results.targets = checkTargets(cells, meta, results.threads);
  console.log(`\n${LEGEND}`);
  console.log(formatTable(results));
  if (results.threads.length) console.log(`\n${formatThreads(results.threads)}`);
  const bad = Object.entries(checks).flatMap(([c, r]) => Object.entries(r).filter(([, v]) => !v.ok).map(([id, v]) => `${c} ${id} (max |diff| ${v.maxDiff})`));
  console.log(bad.length ? `\nWARNING: results disagree with the naive reference: ${bad.join('; ')}` : '\nAll systems agree with the naive reference on S1-S3 (f32 within 1e-5, bf16 within 1/128; f16: the JS engine bit for bit).');
  console.log(formatSummary(results));
  console.log(formatTargets(results.targets));
  if (asyncRows.length) console.log(`\n${formatAsync(asyncRows)}\n${formatAsyncTargets(results.asyncTargets)}`);
  if (kvRows.length) console.log(`\n${formatKvCache(kvRows)}`);
  if (args.markdown) console.log(`\n${formatMarkdown(results)}`);

  const outDir = args.out ?? path.join(os.tmpdir(), 'rope-simd-bench');
  const base = args.json
    ? args.json.replace(/\.json$/, '')
    : path.join(outDir, `${meta.date}-${cpuSlug(cpu)}${args.quick ? '-quick' : ''}`);
  fs.mkdirSync(path.dirname(path.resolve(base)), { recursive: true });
  // One line per array of numbers keeps the file readable with the raw samples in it.
  const json = JSON.stringify(results, null, 1).replace(/\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g, (_, a) => `[${a.replace(/\s+/g, '')}]`);
  fs.writeFileSync(`${base}.json`, json + '\n');
  fs.writeFileSync(`${base}.svg`, renderChart(results));
  // The whole run, start of the process to here (build, checks, warm-ups and all).
  console.log(`\nwrote ${base}.json and .svg; this run took ${process.uptime().toFixed(1)} s wall time (measuring ${meta.seconds} s)`);
}

main().catch((e) => {
  progress.done();
  console.error(e.stack ?? e);
  process.exit(1);
});
