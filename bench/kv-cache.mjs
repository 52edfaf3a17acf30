#!/usr/bin/env node
// applyQK with its cache option (rotate q, write the rotated k and v into a KV cache) against
// applyQK alone and against what a user writes without it: applyQK (k rotated in place), then a
// JS loop converting k and v to the cache's dtype into their slots. Llama-3-8B shapes (32 q + 8
// kv heads of 128), f32 q/k/v, f32 and bf16 caches of 4608 slots, S1 and S3. Median CPU time per
// call over interleaved rounds; each ratio the median of the rounds' ratios. Targets
// (docs/guide/kv-cache.md): fused <= 1.3x applyQK alone (must: 1.6x) at S1 and S3, and >= 3x
// faster than the unfused sequence at S3. What the bytes allow at S3 (formatKvCache prints it under
// the table): the fused call moves 1.2x applyQK's bytes with an f32 cache (1.1x bf16); the unfused
// sequence with an f32 cache is applyQK plus two memcpy, at most ~1.2x the fused call's bytes, so
// 3x needs the slow JS conversion of a 16-bit cache.
// At S1, with the testing addon (limit-addon.mjs), the same rounds also time what the fused call
// cannot avoid beyond applyQK's work: Node-API's reads of its five more arguments (three typed
// arrays, two numbers; readArgs) and v's row into the cache (convertInto); applyQK plus those is
// the floor formatKvCache prints.
//
//   node bench/kv-cache.mjs [--quick] [--shapes S1,S3]     (dist/; npm run bench runs it last)
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadLimitAddon } from './limit-addon.mjs';
import { median, pairedSpeedup } from './stats.mjs';

export const KV_SHAPES = [
  { shape: 'S1', tokens: 1, start: 4095 },
  { shape: 'S3', tokens: 512, start: 0 },
];
const Q_HEADS = 32;
const KV_HEADS = 8;
const HEAD_DIM = 128;
const SLOTS = 4608;

// The conversion a user writes: f32 -> bf16 nearest-even on the bits (f32 cache: a copy).
function unfusedCopy(src, dst, at, bits, dtype) {
  if (dtype === 'f32') {
    dst.set(src, at);
    return;
  }
  for (let i = 0; i < src.length; i++) {
    const b = bits[i];
    dst[at + i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
}

/** Rows { shape, cache, engine, applyQK, fused, unfused, overApplyQK, speedup[, floor] } (ns per
 * call, median; the ratios fused/applyQK and unfused/fused as medians of the rounds' ratios; floor
 * at S1 with the testing addon: { args, vRow } ns, see above). */
export async function runKvCacheBench({ internal, quick = false, shapes = ['S1', 'S3'], progress = () => {} }) {
  const testing = internal.backendInfo?.backend === 'native' ? (await loadLimitAddon(internal)).addon : null;
  const rows = [];
  const engine = internal.backendInfo.backend;
  process.env.ROPE_SIMD_CACHE_WARNING ??= '0'; // (the table names the engine; the warning says no more)
  const rounds = quick ? 5 : 11;
  for (const s of KV_SHAPES.filter((x) => shapes.includes(x.shape))) {
    for (const dtype of ['f32', 'bf16']) {
      progress(`kv-cache ${s.shape} ${dtype}`);
      const rope = internal.createRope({ headDim: HEAD_DIM, base: 500000 }, engine);
      const row = KV_HEADS * HEAD_DIM;
      const q = new Float32Array(s.tokens * Q_HEADS * HEAD_DIM).map((_, i) => Math.sin(i) * 0.5);
      const k = new Float32Array(s.tokens * row).map((_, i) => Math.cos(i) * 0.5);
      const v = new Float32Array(s.tokens * row).map((_, i) => Math.sin(3 * i) * 0.5);
      const kBits = new Uint32Array(k.buffer);
      const vBits = new Uint32Array(v.buffer);
      const make = () => (dtype === 'f32' ? new Float32Array(SLOTS * row) : new Uint16Array(SLOTS * row));
      const kc = make();
      const vc = make();
      const plain = { qHeads: Q_HEADS, kHeads: KV_HEADS, positions: s.start, threads: 1 };
      const cache = { k: kc, v: vc, slots: s.start, ...(dtype === 'f32' ? {} : { dtype }) };
      const fusedOpts = { ...plain, v, cache };
      const systems = {
        applyQK: () => rope.applyQK(q, k, plain),
        fused: () => rope.applyQK(q, k, fusedOpts),
        unfused: () => {
          rope.applyQK(q, k, plain);
          unfusedCopy(k, kc, s.start * row, kBits, dtype);
          unfusedCopy(v, vc, s.start * row, vBits, dtype);
        },
      };
      // The floor's parts (S1): readArgs with the step's arguments (q, k, positions, then v,
      // kCache, vCache, slots, cacheCode; mask: which are typed arrays), and v's row.
      const floor = s.tokens === 1 && testing !== null && typeof testing.readArgs === 'function';
      if (floor) {
        const code = dtype === 'f32' ? 0 : 2, at = s.start * row;
        Object.assign(systems, {
          argsApplyQK: () => testing.readArgs(0b11, q, k, s.start),
          argsFused: () => testing.readArgs(0b111011, q, k, s.start, v, kc, vc, s.start, code),
          vRowArgs: () => testing.readArgs(0b11, v, vc, at, code),
          vRow: () => testing.convertInto(0b11, v, vc, at, code),
        });
      }
      const ids = Object.keys(systems);
      // Warm-up (~50 ms each: the JIT), then ~20 ms of calls per sample and system (the process's
      // CPU time is counted in scheduler ticks: shorter samples would read as noise).
      const calls = {};
      for (const id of ids) {
        let n = 0;
        const t0 = performance.now();
        while (performance.now() - t0 < 50) {
          systems[id]();
          n++;
        }
        calls[id] = Math.max(1, Math.round((20 * n) / (performance.now() - t0)));
      }
      const samples = Object.fromEntries(ids.map((id) => [id, []]));
      for (let r = 0; r < rounds; r++) {
        for (let j = 0; j < ids.length; j++) {
          const id = ids[(j + r) % ids.length];
          const n = calls[id];
          const c0 = process.cpuUsage();
          for (let i = 0; i < n; i++) systems[id]();
          const c = process.cpuUsage(c0);
          samples[id].push(((c.user + c.system) * 1000) / n);
        }
      }
      const m = Object.fromEntries(ids.map((id) => [id, median(samples[id])]));
      const out = { shape: s.shape, cache: dtype, engine, applyQK: m.applyQK, fused: m.fused, unfused: m.unfused };
      // The ratios from the rounds' pairs (stats.mjs pairedSpeedup): a slow stretch moves both.
      out.overApplyQK = pairedSpeedup(samples.fused, samples.applyQK);
      out.speedup = pairedSpeedup(samples.unfused, samples.fused);
      if (floor) out.floor = { args: m.argsFused - m.argsApplyQK, vRow: m.vRow - m.vRowArgs };
      rows.push(out);
    }
  }
  return rows;
}

/** The targets, per row: fused/applyQK <= 1.3 (must 1.6), unfused/fused >= 3 at S3. */
export function checkKvCacheTargets(rows) {
  return rows.map((r) => {
    const overApplyQK = r.overApplyQK ?? r.fused / r.applyQK;
    const speedup = r.speedup ?? r.unfused / r.fused;
    return {
      shape: r.shape,
      cache: r.cache,
      overApplyQK,
      speedup,
      target: overApplyQK <= 1.3 ? 'met' : overApplyQK <= 1.6 ? 'must met, target missed' : 'MISSED (must <= 1.6x)',
      speedupTarget: r.shape !== 'S3' ? 'n/a' : speedup >= 3 ? 'met' : 'MISSED (>= 3x)',
    };
  });
}

export function formatKvCache(rows) {
  const t = checkKvCacheTargets(rows);
  const us = (ns) => (ns / 1000).toFixed(ns < 10_000 ? 2 : 0).padStart(9);
  const lines = [`KV cache write (applyQK + cache, ${rows[0]?.engine ?? '?'} engine, f32 q/k/v, threads 1; us per call, median CPU time; ratios: median of the rounds' ratios)`];
  lines.push('shape cache   applyQK     fused   unfused  fused/applyQK (<=1.3x, must 1.6x)  unfused/fused (S3 >= 3x)');
  rows.forEach((r, i) => {
    lines.push(`${r.shape.padEnd(5)} ${r.cache.padEnd(5)} ${us(r.applyQK)} ${us(r.fused)} ${us(r.unfused)}  ${t[i].overApplyQK.toFixed(2).padStart(5)}x ${t[i].target.padEnd(27)} ${t[i].speedup.toFixed(2).padStart(5)}x ${t[i].speedupTarget}`);
  });
  for (const r of rows.filter((x) => x.floor)) {
    const a = r.floor.args / r.applyQK, w = r.floor.vRow / r.applyQK;
    lines.push(`${r.shape} ${r.cache} floor ${(1 + a + w).toFixed(2)}x = applyQK + Node-API's reads of 3 more arrays and 2 numbers ${a.toFixed(2)}x + v's row ${w.toFixed(2)}x (testing addon, same rounds)`);
  }
  if (rows.some((r) => r.shape === 'S3')) {
    lines.push('(S3 by bytes: fused moves 25.2 MB with an f32 cache, 23.1 MB bf16, applyQK 21.0 MB: 1.2x / 1.1x is the floor;');
    lines.push(' unfused with an f32 cache is applyQK + two memcpy, 29.4 MB: at most ~1.2x the fused call. docs/guide/kv-cache.md)');
  }
  return lines.join('\n');
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--shapes');
  const shapes = i < 0 ? ['S1', 'S3'] : process.argv[i + 1].split(',');
  const internal = await import(pathToFileURL(path.join(root, 'dist', 'internal.js')).href);
  const rows = await runKvCacheBench({ internal, quick: process.argv.includes('--quick'), shapes, progress: (t) => process.stderr.write(`${t}\n`) });
  console.log(formatKvCache(rows));
}
