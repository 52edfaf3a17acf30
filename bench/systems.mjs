// The shapes and the systems under test. A system is { id, kind, label, before?, run, after?,
// shapes? }: `before` runs untimed ahead of each timed sample (selectIsa for the native ISAs), `run`
// is one applyQK-equivalent call on the cell's q and k, `after` (optional) puts the results into
// q and k where `run` rotated other memory (the agreement check), `shapes` limits it to some shapes.
// Later rows (threads, async) are added in buildSystems.

import { makeTable, naiveApplyQK, tableApplyQK } from './baselines.mjs';

export const MODEL = { qHeads: 32, kHeads: 8, headDim: 128, base: 500000 };

export const SHAPES = [
  { shape: 'S1', tokens: 1, start: 4095, note: 'decode, 1 tok @4095' },
  { shape: 'S2', tokens: 16, start: 4080, note: '16 tok @4080' },
  { shape: 'S3', tokens: 512, start: 0, note: '512 tok @0' },
  { shape: 'S4', tokens: 4096, start: 0, note: '4096 tok @0' },
];
export const STYLES = ['half', 'interleaved'];
/**
 * The package's engines measured besides native (which gets a row per ISA): one row each, made
 * with createRope(options, engine). An engine this build cannot create is left out with a note.
 * Adding an engine is one line here (e.g. { id: 'wasm', engine: 'wasm', label: 'WebAssembly engine' }).
 */
export const ENGINE_ROWS = [
  { id: 'wasm', engine: 'wasm', label: 'WebAssembly engine (copies included)' },
  { id: 'js', engine: 'js', label: 'JS engine' },
];
/** The threads rows: half f32 cells, the best ISA. 'auto' at every shape (it must
 * never lose), 2 threads and the 2-thread limit at S3/S4. threads=1 is the main native row. */
export const THREADS_SHAPES = ['S3', 'S4'];
const wasmHeld = []; // the wasm0 system's wasmArrays (see buildSystems)
// f16 has no hand-written baselines (table, naive): its rows are checked bit for bit against the
// JS engine instead.
export const DTYPES = ['f32', 'bf16', 'f16'];
const DTYPE_CODE = { f32: 0, f16: 1, bf16: 2 };

/** Every (shape, style, dtype) cell, in the order they run and are charted. */
export function makeCells(shapeFilter) {
  const cells = [];
  for (const dtype of DTYPES)
    for (const s of SHAPES) {
      if (shapeFilter && !shapeFilter.includes(s.shape)) continue;
      for (const style of STYLES) {
        const elemBytes = dtype === 'f32' ? 4 : 2;
        const qElems = s.tokens * MODEL.qHeads * MODEL.headDim;
        const kElems = s.tokens * MODEL.kHeads * MODEL.headDim;
        cells.push({
          id: `${s.shape} ${style} ${dtype}`,
          shape: s.shape,
          shapeNote: s.note,
          style,
          dtype,
          tokens: s.tokens,
          start: s.start,
          qElems,
          kElems,
          bytes: (qElems + kElems) * elemBytes,
        });
      }
    }
  return cells;
}

/** Deterministic inputs in [-1, 1] (xorshift32), as f32, bf16 or f16 bits. */
export function makeInputs(cell) {
  let state = 0x9e3779b9;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) / 4294967296) * 2 - 1;
  };
  const fill = (n) => {
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) f[i] = next();
    if (cell.dtype === 'f32') return f;
    const u = new Uint16Array(n);
    if (cell.dtype === 'f16') {
      // |v| <= 1: a normal or subnormal f16 with 10 mantissa bits, truncated (any f16 value will do)
      for (let i = 0; i < n; i++) {
        const a = Math.abs(f[i]);
        const e = a < 2 ** -14 ? 0 : Math.min(15 + Math.floor(Math.log2(a)), 30);
        const m = e === 0 ? Math.floor(a * 2 ** 24) : Math.min(Math.floor((a / 2 ** (e - 15) - 1) * 1024), 1023);
        u[i] = (f[i] < 0 ? 0x8000 : 0) | (e << 10) | m;
      }
      return u;
    }
    // bf16: truncating the f32 bits is fine for inputs (any bf16 value will do).
    const bits = new Uint32Array(f.buffer);
    for (let i = 0; i < n; i++) u[i] = bits[i] >>> 16;
    return u;
  };
  return { q: fill(cell.qElems), k: fill(cell.kElems) };
}

/**
 * The systems for one cell, bound to its buffers.
 * @param ctx { internal, ropes: {style: {js, native}}, isas: string[], table, nativeOk }
 */
export function buildSystems(ctx, cell, q, k) {
  const { qHeads, kHeads, headDim, base } = MODEL;
  // One thread, like the limit pass it is compared with; bench/threads.mjs measures threads = 2, 'auto'.
  const opts = { qHeads, kHeads, positions: cell.start, dtype: cell.dtype, threads: 1 };
  const systems = [];
  const ropes = ctx.ropes[cell.style];
  const best = ctx.backendInfo?.isa;
  if (ctx.nativeOk) {
    for (const isa of ctx.isas) {
      systems.push({
        id: `native/${isa}`,
        kind: 'native',
        label: `native ${isa}`,
        before: () => ctx.internal.selectIsa(isa),
        run: () => ropes.native.applyQK(q, k, opts),
      });
    }
    const useBest = () => ctx.internal.selectIsa(best);
    if (cell.style === 'half' && cell.dtype === 'f32') {
      for (const threads of ['auto', 2]) {
        const topts = { ...opts, threads }; // (made once: an object per call would tax only these rows)
        systems.push({
          id: `native/${best} threads=${threads}`,
          kind: 'threads',
          label: `native ${best}, threads ${threads}`,
          threads,
          shapes: threads === 'auto' ? undefined : THREADS_SHAPES,
          before: useBest,
          run: () => ropes.native.applyQK(q, k, topts),
        });
      }
    }
    if (cell.shape === 'S1') {
      // An S1 applyQKAsync (small work runs inline in the facade, resolves at once).
      systems.push({
        id: `native/${best} async`,
        kind: 'async',
        label: `native ${best}, applyQKAsync`,
        before: useBest,
        runAsync: () => ropes.native.applyQKAsync(q, k, opts),
      });
    }
  }
  for (const row of ENGINE_ROWS) {
    const rope = ropes.engines[row.id];
    if (rope) systems.push({ id: row.id, kind: row.id, label: row.label, run: () => rope.applyQK(q, k, opts) });
  }
  // The wasm engine on arrays in its own memory (wasmArray: rotated in place, no copies), holding
  // the cell's q and k. One pair at a time: the last system built owns them (buildSystems is
  // called again for each agreement check; only the newest system is ever run).
  const wasmRope = ropes.engines.wasm;
  if (wasmRope && typeof ctx.internal.wasmArray === 'function') {
    for (const a of wasmHeld.splice(0)) a.free();
    const qa = ctx.internal.wasmArray(q.length, cell.dtype);
    const ka = ctx.internal.wasmArray(k.length, cell.dtype);
    wasmHeld.push(qa, ka);
    qa.array.set(q);
    ka.array.set(k);
    systems.push({
      id: 'wasm0',
      kind: 'wasm0',
      label: 'WebAssembly engine, arrays in its memory (wasmArray)',
      run: () => wasmRope.applyQK(qa.array, ka.array, opts),
      after: () => {
        q.set(qa.array);
        k.set(ka.array);
      },
    });
  }
  if (cell.dtype !== 'f16') {
    const table = tableApplyQK({ style: cell.style, dtype: cell.dtype, headDim, qHeads, kHeads, table: ctx.table });
    systems.push({ id: 'table', kind: 'table', label: 'hand-written JS, table', run: () => table(q, k, cell.start) });
    const naive = naiveApplyQK({ style: cell.style, dtype: cell.dtype, headDim, qHeads, kHeads, base });
    systems.push({ id: 'naive', kind: 'naive', label: 'hand-written JS, naive', run: () => naive(q, k, cell.start) });
  }
  const addon = ctx.limitAddon;
  if (addon) {
    const code = DTYPE_CODE[cell.dtype];
    // The floor for the same bytes: ONE call into the addon with q and k (as applyQK makes), an
    // unrolled x1.0 pass at the widest vectors the CPU runs (the package's default ISA), in the
    // walk's order (a token's q rows, then its k rows: native/binding/testing.cc, the testing addon
    // bench/limit-addon.mjs loads, on the package's ISA). The same f32 pass for
    // every dtype (bf16 bytes as f32 words: native/walk.cc), so each dtype meets memory speed.
    const one = typeof addon.limitPassQK === 'function';
    const before = ctx.nativeOk ? () => addon.selectIsa(ctx.backendInfo.isa) : undefined;
    systems.push({
      id: 'limit',
      kind: 'limit',
      label: 'limit (one call, in-place f32 x1.0 pass over the same bytes)',
      before,
      run: one
        ? () => addon.limitPassQK(q, k, code, 1.0, 1, cell.tokens)
        : () => {
            addon.limitPass(q, code, 1.0);
            addon.limitPass(k, code, 1.0);
          },
    });
    if (one && cell.style === 'half' && cell.dtype === 'f32') {
      systems.push({
        id: 'limit threads=2',
        kind: 'limit2',
        label: 'limit, 2 threads',
        shapes: THREADS_SHAPES,
        before,
        run: () => addon.limitPassQK(q, k, code, 1.0, 2, cell.tokens),
      });
    }
  }
  return systems;
}

/** What buildSystems needs once per run: a Rope per style and engine, the table, the ISAs. */
/** limit: bench/limit-addon.mjs's answer (the testing addon with the limit pass, or why not). */
export function makeContext(internal, limit = { addon: null, reason: 'no limit addon asked for' }) {
  const { headDim, base } = MODEL;
  // backendInfo is live (its isa follows selectIsa): keep the package's own choice from before any switch.
  const info = internal.backendInfo ? { ...internal.backendInfo } : undefined;
  let isas = [];
  try {
    isas = internal.supportedIsas?.() ?? [];
  } catch {
    isas = [];
  }
  const ropes = {};
  let nativeOk = info?.backend === 'native' && isas.length > 0;
  let nativeError = nativeOk ? null : (info?.reason ?? 'native backend not loaded');
  const engineNotes = [];
  for (const style of STYLES) {
    const options = { headDim, base, style };
    ropes[style] = { engines: {}, native: null };
    for (const row of ENGINE_ROWS) {
      try {
        ropes[style].engines[row.id] = internal.createRope(options, row.engine);
      } catch (e) {
        if (style === STYLES[0]) engineNotes.push(`${row.id}: ${e.message}`);
      }
    }
    ropes[style].js = ropes[style].engines.js ?? null;
    if (nativeOk) {
      try {
        ropes[style].native = internal.createRope(options, 'native');
      } catch (e) {
        nativeOk = false;
        nativeError = `createRope(..., 'native') threw: ${e.message}`;
      }
    }
  }
  const maxPos = Math.max(...SHAPES.map((s) => s.start + s.tokens));
  return { internal, ropes, isas, nativeOk, nativeError, engineNotes, table: makeTable(maxPos, headDim, base), backendInfo: info,
    limitAddon: limit.addon, limitNote: limit.reason };
}

/** Restore the ISA the package picked by itself, so nothing after the bench inherits a forced one. */
export function restoreIsa(ctx) {
  if (ctx.nativeOk && ctx.backendInfo?.isa && ctx.isas.includes(ctx.backendInfo.isa)) ctx.internal.selectIsa(ctx.backendInfo.isa);
}
