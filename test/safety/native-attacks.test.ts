// Buffers resized or transferred under the native engine, each attack in a child process: the
// arrays span 16 MiB, so a native write from a stale length or a detached pointer lands in pages a
// shrink gave back (a crash) instead of in bytes nobody looks at. The test asserts the child's exit
// status and signal (a crash fails the test that caused it, by name) and what the child saw: the
// error and its message, and the bytes that are left exactly as they were.
// test/safety/hostile.test.ts runs the same kinds of attack in process on the js and wasm engines.
import { afterAll, describe, expect, it } from 'vitest';
import { nativeAddon } from '../../lib/internal.js';
import { childDir } from '../helpers/child.js';

const RESIZABLE = typeof (ArrayBuffer.prototype as { resize?: unknown }).resize === 'function';
const children = childDir('rope-simd-attacks-');
afterAll(() => children.remove());

// What every child has: the native Rope, a 16 MiB buffer's worth of rows T tokens apart, helpers.
const prelude = (lib: string) => `
import { createRope } from ${JSON.stringify(lib)};
const rope = createRope({ headDim: 8 }, 'native');
if (rope.engine !== 'native') throw new Error('not the native engine: ' + rope.engine);
const D = 8, H = 2, QH = 4, KH = 2, BIG = 16 * 2 ** 20, SMALL = 4096;
// T rows of H heads spread over the whole buffer (tokenStride), the last one at its end
const spread = (T, heads) => ({ tokens: T, stride: Math.floor((BIG / 4 - heads * D) / (T - 1)) });
const resizable = (n) => new ArrayBuffer(n, { maxByteLength: n });
const fill = (a) => { for (let i = 0; i < a.length; i += 1) a[i] = ((i * 7919) % 4099) / 2048 - 1; return a; };
const same = (a, b) => Buffer.from(a.buffer ?? a, a.byteOffset ?? 0, a.byteLength).equals(Buffer.from(b.buffer ?? b, b.byteOffset ?? 0, b.byteLength));
let ASYNC = false;
const apply = (x, o) => (ASYNC ? rope.applyAsync(x, o) : rope.apply(x, o));
const applyQK = (q, k, o) => (ASYNC ? rope.applyQKAsync(q, k, o) : rope.applyQK(q, k, o));
async function attempt(fn) {
  try {
    await fn();
    return { outcome: 'returned' };
  } catch (e) {
    return { outcome: e.constructor.name, message: e.message };
  }
}
`;

interface Attack {
  name: string;
  /** A function body (async) returning { r: attempt(...), intact: boolean, ... } for JSON. */
  code: string;
  want: { outcome: string; message: RegExp };
  asyncOnly?: boolean;
  needsResize?: boolean;
}

const attacks: Attack[] = [
  {
    name: 'apply: a positions getter shrinks x (16 MiB -> 4 KiB) after its length was read',
    needsResize: true,
    code: `
      const buf = resizable(BIG);
      const x = fill(new Float32Array(buf)); // length-tracking
      const keep = new Uint8Array(buf, 0, SMALL).slice();
      const { tokens, stride } = spread(3, H);
      const r = await attempt(() => apply(x, { heads: H, tokens, tokenStride: stride, get positions() { buf.resize(SMALL); return 5; } }));
      return { r, intact: same(new Uint8Array(buf), keep) && buf.byteLength === SMALL };`,
    // (options are read before any array is measured: the call sees the shrunk x)
    want: { outcome: 'RangeError', message: /^x\.length 1024 is too short: tokens 3 at tokenStride 2097144 with heads\*headDim = 16 end at element 4194304$/ },
  },
  {
    name: 'apply: a Proxy positions array shrinks x while it is read',
    needsResize: true,
    code: `
      const buf = resizable(BIG);
      const x = fill(new Float32Array(buf));
      const keep = new Uint8Array(buf, 0, SMALL).slice();
      const { tokens, stride } = spread(3, H);
      const positions = new Proxy([1, 2, 3], { get: (a, k) => (k === '2' && buf.resize(SMALL), Reflect.get(a, k)) });
      const r = await attempt(() => apply(x, { heads: H, tokens, tokenStride: stride, positions }));
      return { r, intact: same(new Uint8Array(buf), keep) };`,
    want: { outcome: 'RangeError', message: /^x\.length changed from 4194304 to 1024 while positions were read$/ },
  },
  {
    name: 'applyQK: a positions getter shrinks k after its length was read',
    needsResize: true,
    code: `
      const q = fill(new Float32Array(3 * QH * D));
      const q0 = q.slice();
      const buf = resizable(BIG);
      const k = fill(new Float32Array(buf));
      const keep = new Uint8Array(buf, 0, SMALL).slice();
      const { tokens, stride } = spread(3, KH);
      const r = await attempt(() => applyQK(q, k, { qHeads: QH, kHeads: KH, tokens, kTokenStride: stride, get positions() { buf.resize(SMALL); return 5; } }));
      return { r, intact: same(new Uint8Array(buf), keep) && same(q, q0) };`,
    want: { outcome: 'RangeError', message: /^k\.length 1024 is too short: tokens 3 at kTokenStride 2097144 with kHeads\*headDim = 16 end at element 4194304$/ },
  },
  {
    name: 'applyQK, the decode path: a positions getter shrinks k (dense, 262144 tokens -> 64)',
    needsResize: true,
    code: `
      const buf = resizable(BIG);
      const k = fill(new Float32Array(buf));
      const q = fill(new Float32Array((k.length / (KH * D)) * QH * D));
      const q0 = q.slice();
      const keep = new Uint8Array(buf, 0, SMALL).slice();
      const r = await attempt(() => applyQK(q, k, { qHeads: QH, kHeads: KH, get positions() { buf.resize(SMALL); return 5; } }));
      return { r, intact: same(new Uint8Array(buf), keep) && same(q, q0) };`,
    want: { outcome: 'RangeError', message: /^k holds 64 tokens \(k\.length 1024\) but q holds 262144 tokens \(q\.length 8388608\); they must match$/ },
  },
  {
    name: 'apply: a positions getter transfers x away (16 MiB)',
    code: `
      const x = fill(new Float32Array(BIG / 4));
      const keep = new Uint8Array(x.buffer).slice();
      let moved;
      const { tokens, stride } = spread(3, H);
      const r = await attempt(() => apply(x, { heads: H, tokens, tokenStride: stride, get positions() { moved = structuredClone(x.buffer, { transfer: [x.buffer] }); return 5; } }));
      return { r, intact: x.buffer.byteLength === 0 && same(new Uint8Array(moved), keep) };`,
    want: { outcome: 'TypeError', message: /^x's buffer is detached: nothing to rotate$/ },
  },
  {
    name: 'apply: x a length-tracking view of a buffer shrunk one element short of its last row',
    needsResize: true,
    code: `
      const buf = resizable(BIG);
      const x = fill(new Float32Array(buf));
      const { tokens, stride } = spread(3, H);
      const end = 2 * stride + H * D;
      buf.resize(4 * (end - 1));
      const keep = new Uint8Array(buf).slice();
      const r = await attempt(() => apply(x, { heads: H, tokens, tokenStride: stride, positions: 5 }));
      return { r, intact: same(new Uint8Array(buf), keep) };`,
    want: { outcome: 'RangeError', message: /^x\.length 4194303 is too short: tokens 3 at tokenStride 2097144 with heads\*headDim = 16 end at element 4194304$/ },
  },
  {
    name: 'apply: x a length-tracking view of a growable SharedArrayBuffer grown one element past whole tokens',
    needsResize: true,
    code: `
      const sab = new SharedArrayBuffer(BIG, { maxByteLength: BIG + 64 });
      const x = fill(new Float32Array(sab));
      sab.grow(BIG + 4);
      const keep = new Uint8Array(sab).slice();
      const r = await attempt(() => apply(x, { heads: H, positions: 5 }));
      return { r, intact: same(new Uint8Array(sab), keep) };`,
    want: { outcome: 'RangeError', message: /^x\.length 4194305 is not a multiple of heads\*headDim = 16$/ },
  },
  {
    name: 'apply: x transferred away before the call (16 MiB)',
    code: `
      const x = fill(new Float32Array(BIG / 4));
      const keep = new Uint8Array(x.buffer).slice();
      const moved = structuredClone(x.buffer, { transfer: [x.buffer] });
      const r = await attempt(() => apply(x, { heads: H, positions: 5 }));
      return { r, intact: same(new Uint8Array(moved), keep) };`,
    want: { outcome: 'TypeError', message: /^x's buffer is detached: nothing to rotate$/ },
  },
  {
    name: 'applyQK: k transferred away before the call, q rows spread over 16 MiB',
    code: `
      const q = fill(new Float32Array(BIG / 4));
      const q0 = q.slice();
      const k = fill(new Float32Array(3 * KH * D));
      const keep = new Uint8Array(k.buffer).slice();
      const moved = structuredClone(k.buffer, { transfer: [k.buffer] });
      const { tokens, stride } = spread(3, QH);
      const r = await attempt(() => applyQK(q, k, { qHeads: QH, kHeads: KH, tokens, qTokenStride: stride, positions: 5 }));
      return { r, intact: same(new Uint8Array(moved), keep) && same(q, q0) };`,
    want: { outcome: 'TypeError', message: /^k's buffer is detached: nothing to rotate$/ },
  },
  {
    name: 'apply: positions an Int32Array on a resizable buffer shrunk one short of the tokens',
    needsResize: true,
    code: `
      const x = fill(new Float32Array(BIG / 4));
      const x0 = x.slice();
      const { tokens, stride } = spread(3, H);
      const pb = resizable(12);
      const positions = new Int32Array(pb);
      positions.set([1, 2, 3]);
      pb.resize(8);
      const r = await attempt(() => apply(x, { heads: H, tokens, tokenStride: stride, positions }));
      return { r, intact: same(x, x0) };`,
    want: { outcome: 'RangeError', message: /^positions\.length 2 must be tokens = 3$/ },
  },
  {
    name: 'applyAsync past the inline size: x shrunk (16 MiB -> 4 KiB) right after the call',
    asyncOnly: true,
    needsResize: true,
    code: `
      const buf = resizable(BIG);
      const x = fill(new Float32Array(buf)); // 16 MiB of rows: several slices
      const p = rope.applyAsync(x, { heads: H, positions: 5 });
      buf.resize(SMALL);
      const keep = new Uint8Array(buf).slice(); // (a first slice may have rotated these)
      const r = await attempt(() => p);
      return { r, intact: same(new Uint8Array(buf), keep) };`,
    want: { outcome: 'RangeError', message: /^x's buffer shrank while applyAsync ran \(x now has 1024 elements, its rows need 4194304\)/ },
  },
  {
    name: 'applyAsync past the inline size: x transferred right after the call',
    asyncOnly: true,
    code: `
      const x = fill(new Float32Array(BIG / 4));
      const p = rope.applyAsync(x, { heads: H, positions: 5 });
      const keep = new Uint8Array(x.buffer).slice();
      const moved = structuredClone(x.buffer, { transfer: [x.buffer] });
      const r = await attempt(() => p);
      return { r, intact: same(new Uint8Array(moved), keep) };`,
    want: { outcome: 'TypeError', message: /^x's buffer was detached \(transferred\) while applyAsync ran/ },
  },
];

// In the ROPE_SIMD_BACKEND=js and =wasm stages the facade has no native engine, by request: the
// native stages run these.
const forced = process.env.ROPE_SIMD_BACKEND === 'js' || process.env.ROPE_SIMD_BACKEND === 'wasm';

describe('the native engine under buffers resized or transferred (each attack in a child process)', () => {
  if (forced) {
    it(`runs in the native stages (this is a ${process.env.ROPE_SIMD_BACKEND}-only run)`, () => expect(nativeAddon).toBe(null));
    return;
  }
  // One child per attack: the sync form, then the async one (a crash in either fails this test).
  it.each(attacks.map((a) => [a.name, a] as const))('%s', (_n, a) => {
    if (a.needsResize && !RESIZABLE) {
      // Node 18: no resizable buffers (the constructor ignores maxByteLength); nothing to attack with
      return expect(typeof (new (ArrayBuffer as unknown as new (n: number, o: object) => { resize?: unknown })(8, { maxByteLength: 16 })).resize).toBe('undefined');
    }
    const forms = a.asyncOnly ? [true] : [false, true];
    const code = [
      prelude(children.lib()),
      'const found = [];',
      ...forms.map((async) => `ASYNC = ${async}; found.push(await (async () => {${a.code}\n})());`),
      'console.log(JSON.stringify(found));',
    ].join('\n');
    const r = children.run(code, { ROPE_SIMD_BACKEND: 'native' });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const found = JSON.parse(r.stdout) as { r: { outcome: string; message?: string }; intact: boolean }[];
    expect(found.length).toBe(forms.length);
    found.forEach((f, i) => {
      const form = forms[i] ? 'async' : 'sync';
      expect(f.r.outcome, `${form}: ${f.r.message}`).toBe(a.want.outcome);
      expect(f.r.message, form).toMatch(a.want.message);
      expect(f.intact, form).toBe(true);
    });
  });
});
