#!/usr/bin/env node
// The S1 decode call against the limit call, in one process with interleaved rounds: median ns per
// call of the one-call limit pass (addon.limitPassQK), rope.applyQK and a prepared step, positions
// as a number and as an Int32Array, threads 1 and 'auto', f32 and bf16 (Llama-3-8B: 32 q + 8 k
// heads of 128). On a shared machine the process's CPU time is the steadier clock (time waiting
// for a core is not counted); --wall uses wall time. A tool for working on the fast path;
// `npm run bench` has the targets.
//
//   node bench/decode.mjs [--rounds 15] [--calls 20000] [--wall] [--tiny] [--interleaved]   (dist/)
//   --tiny: 1 q + 1 k head: the fixed cost of a call, almost no rotation.

import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadLimitAddon } from './limit-addon.mjs';
import { median } from './stats.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const rounds = arg('--rounds', 15);
const calls = arg('--calls', 20000);
const wall = process.argv.includes('--wall');
const tiny = process.argv.includes('--tiny');
const style = process.argv.includes('--interleaved') ? 'interleaved' : 'half';

const I = await import(pathToFileURL(path.join(root, 'dist', 'internal.js')).href);
// limitPassQK: the testing addon's (bench/limit-addon.mjs).
const { addon, reason } = await loadLimitAddon(I);
if (!addon) {
  console.log(`decode bench needs the native addon and the limit pass: ${reason}`);
  process.exit(0);
}
const qHeads = tiny ? 1 : 32;
const kHeads = tiny ? 1 : 8;
const headDim = 128;
const rope = I.createRope({ headDim, base: 500000, style }, 'native');
const systems = {};
for (const dtype of ['f32', 'bf16']) {
  const make = (n) => (dtype === 'f32' ? new Float32Array(n).fill(0.5) : new Uint16Array(n).fill(0x3f00));
  const q = make(qHeads * headDim);
  const k = make(kHeads * headDim);
  const code = dtype === 'f32' ? 0 : 2;
  const pos = new Int32Array([4095]);
  const num = { qHeads, kHeads, positions: 4095, dtype, threads: 1 };
  const arr = { qHeads, kHeads, positions: pos, dtype, threads: 1 };
  const auto = { qHeads, kHeads, positions: 4095, dtype, threads: 'auto' };
  const step = rope.prepare({ qHeads, kHeads, dtype, threads: 1 });
  systems[`${dtype} limit call`] = () => addon.limitPassQK(q, k, code, 1.0);
  systems[`${dtype} applyQK, number`] = () => rope.applyQK(q, k, num);
  systems[`${dtype} applyQK, Int32Array`] = () => rope.applyQK(q, k, arr);
  systems[`${dtype} applyQK, 'auto'`] = () => rope.applyQK(q, k, auto); // (a second step at one call site)
  systems[`${dtype} step, number`] = () => step.applyQK(q, k, 4095);
  systems[`${dtype} step, Int32Array`] = () => step.applyQK(q, k, pos);
}
const ids = Object.keys(systems);
const samples = Object.fromEntries(ids.map((id) => [id, []]));
for (const id of ids) for (let i = 0; i < 20000; i++) systems[id]();
for (let r = 0; r < rounds; r++)
  for (let j = 0; j < ids.length; j++) {
    const id = ids[(j + r) % ids.length];
    const f = systems[id];
    if (wall) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) f();
      samples[id].push(Number(process.hrtime.bigint() - t0) / calls);
    } else {
      const c0 = process.cpuUsage();
      for (let i = 0; i < calls; i++) f();
      const c = process.cpuUsage(c0);
      samples[id].push(((c.user + c.system) * 1000) / calls);
    }
  }
console.log(`S1 decode${tiny ? ' (--tiny: 1+1 heads)' : ''}, ${style}, ${I.backendInfo.isa}, ${wall ? 'wall' : 'CPU'} time, median of ${rounds} interleaved rounds x ${calls} calls`);
for (const dtype of ['f32', 'bf16']) {
  const limit = median(samples[`${dtype} limit call`]);
  for (const id of ids.filter((x) => x.startsWith(dtype))) {
    const m = median(samples[id]);
    console.log(`  ${id.padEnd(24)} ${m.toFixed(0).padStart(6)} ns  ${(m / limit).toFixed(2)}x the limit call`);
  }
}
