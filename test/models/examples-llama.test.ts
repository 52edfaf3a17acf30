// examples/llama against transformers: for each tiny random-weight model made by
// scripts/gen/gen-tiny-models.py, the example's CLI must generate transformers' float64 greedy tokens,
// with every step's logits within 1e-4 of the row's largest |logit|. Then the context shift: keys
// re-rotated in the cache by the inverse rotation equal keys computed fresh at their new positions.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { backendInfo } from '../../lib/backend.js';
import { ensureDist, root } from '../helpers/dist.js';

const fixtures = join(root, 'test', 'fixtures', 'tiny-models');
const names = readdirSync(fixtures, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
const TOL = 1e-4;
// --cache bf16: keys and values are stored with 8 significant bits (each rounded once, relative
// error <= 2^-9 ~ 2e-3), and those errors add up through every layer's attention; measured at most
// 1.6e-2 of a row's largest |logit| (qwen2; the others 3e-3..1e-2), so the bound is 3e-2.
const BF16_TOL = 3e-2;

interface Expected {
  prompt: number[];
  tokens: number[];
  logits: number[][];
}
const expected = (name: string): Expected => JSON.parse(readFileSync(join(fixtures, name, 'expected.json'), 'utf8'));

// The example is plain JS without type declarations: its surface, as the tests use it.
interface Layer {
  k: Float32Array | Uint16Array;
  v: Float32Array | Uint16Array;
}
interface DecoderT {
  ctx: number;
  nPast: number;
  kvHeads: number;
  headDim: number;
  layers: Layer[];
  forward(tokens: number[]): Float32Array;
  shift(nKeep: number, nDiscard: number): void;
}
interface ModelModule {
  loadModel(dir: string): { config: Record<string, unknown> };
  Decoder: new (model: object, opts?: { ctx?: number; ubatch?: number; cacheDtype?: 'f32' | 'bf16' }) => DecoderT;
  generate(d: DecoderT, prompt: number[], n: number, o?: { nKeep?: number }): { tokens: number[]; logits: Float32Array[] };
}
const modelPath = '../../examples/llama/model.mjs'; // in a variable: no type declarations to find
const load = (): Promise<ModelModule> => import(/* @vite-ignore */ modelPath);

function runCli(args: string[]): { status: number | null; out: string; err: string } {
  const env = { ...process.env };
  delete env.ROPE_SIMD_ADDON; // the package's own loader, as a user runs it
  // (the JS cache write's one warning: shown to users, checked once below, silenced for the rest)
  if (!args.includes('--profile')) env.ROPE_SIMD_CACHE_WARNING = '0';
  const r = spawnSync(process.execPath, [join(root, 'examples', 'llama', 'run.mjs'), ...args], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** Largest |got - want| over a row, as a fraction of the row's largest |want|. */
function rowError(got: ArrayLike<number>, want: number[]): number {
  let err = 0;
  let max = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]));
    max = Math.max(max, Math.abs(want[i]));
  }
  return err / max;
}

describe('examples/llama matches transformers (float64) on tiny models', () => {
  beforeAll(() => ensureDist(), 180_000); // a dist/ build takes seconds

  it('has a fixture per architecture, llama3 scaling past the original context included', () => {
    const archs = names.map((n) => (JSON.parse(readFileSync(join(fixtures, n, 'config.json'), 'utf8')).architectures as string[])[0]);
    expect(new Set(archs)).toEqual(new Set(['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM']));
    const scaled = JSON.parse(readFileSync(join(fixtures, 'llama3-scaled', 'config.json'), 'utf8'));
    expect(scaled.rope_parameters.rope_type).toBe('llama3');
    expect(expected('llama3-scaled').prompt.length).toBeGreaterThan(scaled.rope_parameters.original_max_position_embeddings);
  });

  for (const name of names) {
    it(`${name}: the CLI's tokens and logits (--json)`, () => {
      const e = expected(name);
      const r = runCli(['--model', join(fixtures, name), '--tokens', e.prompt.join(','), '--new', String(e.tokens.length), '--json']);
      expect(r.err).toBe('');
      expect(r.status).toBe(0);
      const got = JSON.parse(r.out) as { tokens: number[]; logits: number[][] };
      expect(Object.keys(got)).toEqual(['tokens', 'logits']);
      expect(got.tokens).toEqual(e.tokens);
      expect(got.logits).toHaveLength(e.logits.length);
      for (let s = 0; s < e.logits.length; s++) {
        expect(got.logits[s]).toHaveLength(e.logits[s].length);
        expect(rowError(got.logits[s], e.logits[s]), `step ${s}`).toBeLessThan(TOL);
      }
    });
  }

  for (const name of names) {
    it(`${name}: --cache bf16 keeps transformers' tokens, logits within ${BF16_TOL} of the float64 run`, () => {
      const e = expected(name);
      const r = runCli(['--model', join(fixtures, name), '--tokens', e.prompt.join(','), '--new', String(e.tokens.length), '--json', '--cache', 'bf16']);
      expect(r.err).toBe('');
      expect(r.status).toBe(0);
      const got = JSON.parse(r.out) as { tokens: number[]; logits: number[][] };
      expect(got.tokens).toEqual(e.tokens);
      const errors = e.logits.map((row, s) => rowError(got.logits[s], row));
      errors.forEach((err, s) => expect(err, `step ${s}`).toBeLessThan(BF16_TOL));
      // (and the cache is bf16: an f32 cache stays within TOL)
      expect(Math.max(...errors)).toBeGreaterThan(10 * TOL);
    });
  }

  it('--profile reports the RoPE share of decode time on the backend this process loaded', () => {
    const e = expected('llama');
    const r = runCli(['--model', join(fixtures, 'llama'), '--tokens', e.prompt.join(','), '--new', '4', '--profile']);
    expect(r.status).toBe(0);
    expect(r.out.trim()).toBe(e.tokens.slice(0, 4).join(','));
    expect(r.err).toContain(`rope-simd backend: ${backendInfo.backend}`);
    // Every engine writes the cache itself (no warning); only an addon built before the native
    // cache write (a stale prebuild, which the child's loader may pick) falls back to JS and says so, once.
    const env = { ...process.env };
    delete env.ROPE_SIMD_ADDON;
    const probe = spawnSync(process.execPath, ['-e', "const a = require('node-gyp-build')(process.argv[1]); console.log(typeof a.NativeRope.prototype.applyCache)", root], { env, encoding: 'utf8' });
    const stale = backendInfo.backend === 'native' && probe.stdout.trim() !== 'function';
    const warnings = r.err.split('\n').filter((l) => l.includes('[ROPE_SIMD_CACHE_JS]'));
    expect(warnings).toHaveLength(stale ? 1 : 0);
    const m = /decode: 3 tokens, ([\d.]+) ms, RoPE ([\d.]+) ms \(([\d.]+)% of decode time\)/.exec(r.err);
    expect(m, r.err).not.toBeNull();
    const [total, rope, pct] = m!.slice(1).map(Number);
    expect(rope).toBeGreaterThan(0);
    expect(rope).toBeLessThan(total);
    expect(pct).toBeCloseTo((100 * rope) / total, 0);
  });

  it('a prompt longer than ubatch runs in chunks, with the same result (llama3-scaled, 40 tokens in 7s)', async () => {
    const { loadModel, Decoder, generate } = await load();
    const e = expected('llama3-scaled');
    const { tokens, logits } = generate(new Decoder(loadModel(join(fixtures, 'llama3-scaled')), { ubatch: 7 }), e.prompt, e.tokens.length);
    expect(tokens).toEqual(e.tokens);
    logits.forEach((row, s) => expect(rowError(row, e.logits[s]), `step ${s}`).toBeLessThan(TOL));
  });

  it('the CLI names what was wrong and exits 1, printing nothing on stdout', () => {
    const model = join(fixtures, 'llama');
    for (const [args, msg] of [
      [['--model', model, '--tokens', '1,x'], "--tokens must be an integer >= 0, got 'x'"],
      [['--model', model, '--tokens', '1,256'], 'token id 256 is outside the vocabulary [0, 256)'],
      [['--model', model, '--tokens', '1,2,3', '--ctx', '2'], "the prompt's 3 tokens do not fit the context of 2"],
      [['--model', join(fixtures, 'nope'), '--tokens', '1'], 'no such file'],
      [['--tokens', '1'], 'usage: node examples/llama/run.mjs'],
      [['--model', model, '--tokens', '1', '--cache', 'f16'], "--cache must be f32 or bf16, got 'f16'"],
    ] as const) {
      const r = runCli([...args]);
      expect(r.status, msg).toBe(1);
      expect(r.out).toBe('');
      expect(r.err).toContain(msg);
    }
  });

  const ropeTheta = (c: Record<string, unknown>): unknown => (c.rope_parameters as { rope_theta?: unknown } | undefined)?.rope_theta ?? c.rope_theta ?? 10000;

  it('the fixtures tell RoPE mistakes apart: default rope on the llama3 model, no sliding window on mistral, interleaved pairs on llama', async () => {
    // Rewritten configs, same weights: if these still matched transformers, the comparison above
    // could not be trusted to catch a wrong scaling or window.
    const { loadModel, Decoder, generate } = await load();
    const dir = mkdtempSync(join(tmpdir(), 'rope-simd-llama-'));
    try {
      for (const [name, edit] of [
        ['llama3-scaled', (c: Record<string, unknown>) => void (c.rope_parameters = { rope_type: 'default', rope_theta: 500000 })],
        ['mistral', (c: Record<string, unknown>) => void (c.sliding_window = null)],
        // adjacent pairs: the config named as a family whose code rotates (2j, 2j+1) (Cohere's
        // repeat_interleave of cos/sin), its rope_theta kept
        ['llama', (c: Record<string, unknown>) => void (c.rope_parameters = { rope_type: 'default', rope_theta: ropeTheta(c) }, (c.model_type = 'cohere'))],
      ] as const) {
        const d = join(dir, name);
        cpSync(join(fixtures, name), d, { recursive: true });
        const config = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
        edit(config);
        writeFileSync(join(d, 'config.json'), JSON.stringify(config));
        const e = expected(name);
        const { logits } = generate(new Decoder(loadModel(d)), e.prompt, 1);
        expect(rowError(logits[0], e.logits[0]), name).toBeGreaterThan(10 * TOL);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('examples/llama/safetensors.mjs', () => {
  interface Tensors {
    readSafetensors(file: string): Map<string, { shape: number[]; data: Float32Array }>;
    readModelTensors(dir: string): Map<string, { shape: number[]; data: Float32Array }>;
  }
  const readerPath = '../../examples/llama/safetensors.mjs';

  it('reads F32, BF16 and F16 tensors as torch reads them (subnormals, -0, f16 max included)', async () => {
    const { readSafetensors } = (await import(/* @vite-ignore */ readerPath)) as Tensors;
    const got = readSafetensors(join(fixtures, 'dtypes.safetensors'));
    const want = JSON.parse(readFileSync(join(fixtures, 'dtypes.json'), 'utf8')) as Record<string, { shape: number[]; values: number[] }>;
    expect([...got.keys()].sort()).toEqual(Object.keys(want).sort());
    for (const [name, w] of Object.entries(want)) {
      expect(got.get(name)!.shape, name).toEqual(w.shape);
      expect(Array.from(got.get(name)!.data), name).toEqual(w.values);
    }
  });

  it('follows model.safetensors.index.json to the shards, reads unaligned data, refuses a header past the file', async () => {
    const { readModelTensors, readSafetensors } = (await import(/* @vite-ignore */ readerPath)) as Tensors;
    const dir = mkdtempSync(join(tmpdir(), 'rope-simd-st-'));
    try {
      const single = readModelTensors(join(fixtures, 'qwen2'));
      cpSync(join(fixtures, 'qwen2', 'model.safetensors'), join(dir, 'model-00001-of-00001.safetensors'));
      const weightMap = Object.fromEntries([...single.keys()].map((k) => [k, 'model-00001-of-00001.safetensors']));
      writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
      const sharded = readModelTensors(dir);
      expect([...sharded.keys()].sort()).toEqual([...single.keys()].sort());
      for (const [k, v] of single) expect(sharded.get(k)!.data).toEqual(v.data);

      // a header one byte longer (JSON allows the trailing space) leaves f32 data unaligned
      const file = readFileSync(join(fixtures, 'qwen2', 'model.safetensors'));
      const n = Number(file.readBigUInt64LE(0));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(n + 1), 0);
      writeFileSync(join(dir, 'odd.safetensors'), Buffer.concat([len, file.subarray(8, 8 + n), Buffer.from(' '), file.subarray(8 + n)]));
      const odd = readSafetensors(join(dir, 'odd.safetensors'));
      for (const [k, v] of single) expect(odd.get(k)!.data, k).toEqual(v.data);

      const bad = Buffer.alloc(16);
      bad.writeBigUInt64LE(1000n, 0);
      writeFileSync(join(dir, 'bad.safetensors'), bad);
      expect(() => readSafetensors(join(dir, 'bad.safetensors'))).toThrow(/header length 1000 runs past the file's 16 bytes/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('context shift (--ctx): kept keys re-rotated by the inverse rotation', () => {
  /** float64 rotation of one 'half'-style head by angle(j) = pos * base^(-2j/d), independent of lib/. */
  function rotateHalf(x: Float32Array, pos: number, base: number): Float64Array {
    const d = x.length;
    const out = new Float64Array(d);
    for (let j = 0; j < d / 2; j++) {
      const a = pos * Math.pow(base, (-2 * j) / d);
      out[j] = x[j] * Math.cos(a) - x[j + d / 2] * Math.sin(a);
      out[j + d / 2] = x[j + d / 2] * Math.cos(a) + x[j] * Math.sin(a);
    }
    return out;
  }

  for (const name of names) {
    it(`${name}: after dropping tokens, cached keys equal keys computed fresh at their new positions`, async () => {
      const { loadModel, Decoder } = await load();
      const model = loadModel(join(fixtures, name));
      const e = expected(name);
      const seq = [...e.prompt, ...e.tokens].slice(0, 16);
      const [nKeep, nDiscard] = [4, 6];
      const a = new Decoder(model, { ctx: 16 });
      a.forward(seq);
      const before = a.layers.map((l) => ({ k: l.k.slice() as Float32Array, v: l.v.slice() as Float32Array }));
      a.shift(nKeep, nDiscard);
      expect(a.nPast).toBe(16 - nDiscard);
      const kvDim = a.kvHeads * a.headDim;
      const kept = a.nPast * kvDim;

      // Layer 0's keys and values depend only on each token and its position: a fresh run of the
      // surviving tokens at positions 0..9 must give them, within f32 rounding.
      const b = new Decoder(model, { ctx: 16 });
      b.forward([...seq.slice(0, nKeep), ...seq.slice(nKeep + nDiscard)]);
      const k0 = a.layers[0].k.subarray(0, kept) as Float32Array;
      const fresh = b.layers[0].k.subarray(0, kept) as Float32Array;
      const kMax = fresh.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      for (let i = 0; i < kept; i++) expect(Math.abs(k0[i] - fresh[i]), `key element ${i}`).toBeLessThanOrEqual(4e-7 * kMax);
      expect(a.layers[0].v.subarray(0, kept)).toEqual(b.layers[0].v.subarray(0, kept));

      // Every layer: the prefix untouched, the moved values copied bit for bit, and (for default
      // rope, whose angles this test computes itself) each moved key equals the old key rotated by
      // -nDiscard in float64.
      const rp = (model.config.rope_parameters ?? {}) as { rope_type?: string; rope_theta?: number };
      a.layers.forEach((layer, l) => {
        const old = before[l];
        expect(layer.k.subarray(0, nKeep * kvDim)).toEqual(old.k.subarray(0, nKeep * kvDim));
        expect(layer.v.subarray(nKeep * kvDim, kept)).toEqual(old.v.subarray((nKeep + nDiscard) * kvDim, 16 * kvDim));
        if (rp.rope_type !== 'default') return;
        for (let s = nKeep; s < a.nPast; s++) {
          for (let h = 0; h < a.kvHeads; h++) {
            const o = (s + nDiscard) * kvDim + h * a.headDim;
            const want = rotateHalf(old.k.subarray(o, o + a.headDim), -nDiscard, rp.rope_theta!);
            const got = layer.k.subarray(s * kvDim + h * a.headDim, s * kvDim + (h + 1) * a.headDim);
            const m = want.reduce((x, v) => Math.max(x, Math.abs(v)), 0);
            for (let d = 0; d < a.headDim; d++) expect(Math.abs(got[d] - want[d])).toBeLessThanOrEqual(4e-7 * m);
          }
        }
      });
    });
  }

  it('refuses to shift where rotations do not compose (YaRN scales cos/sin), changing nothing', async () => {
    const { loadModel, Decoder } = await load();
    const dir = mkdtempSync(join(tmpdir(), 'rope-simd-yarn-'));
    try {
      cpSync(join(fixtures, 'llama'), dir, { recursive: true });
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      config.rope_parameters = { rope_type: 'yarn', rope_theta: 10000, factor: 4, original_max_position_embeddings: 64 };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      const d = new Decoder(loadModel(dir), { ctx: 16 });
      d.forward(expected('llama').prompt);
      const k = d.layers.map((l) => l.k.slice());
      expect(() => d.shift(2, 4)).toThrow(/K-shift needs rotations that compose \(rope_type yarn, attention scaling 1\.13/);
      expect(d.nPast).toBe(12);
      d.layers.forEach((l, i) => expect(l.k).toEqual(k[i]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a bf16 cache shifts too: moved keys are the old ones rotated by -nDiscard, rounded once to bf16', async () => {
    const { loadModel, Decoder } = await load();
    const bf16 = (h: number): number => new Float32Array(new Uint32Array([h << 16]).buffer)[0];
    for (const name of names) {
      const model = loadModel(join(fixtures, name));
      const rp = (model.config.rope_parameters ?? {}) as { rope_type?: string; rope_theta?: number };
      if (rp.rope_type !== 'default') continue;
      const e = expected(name);
      const a = new Decoder(model, { ctx: 16, cacheDtype: 'bf16' });
      a.forward([...e.prompt, ...e.tokens].slice(0, 16));
      const before = a.layers.map((l) => ({ k: l.k.slice() as Uint16Array, v: l.v.slice() as Uint16Array }));
      a.shift(4, 6);
      const kvDim = a.kvHeads * a.headDim;
      a.layers.forEach((layer, l) => {
        expect(layer.k).toBeInstanceOf(Uint16Array);
        expect(layer.k.subarray(0, 4 * kvDim)).toEqual(before[l].k.subarray(0, 4 * kvDim));
        expect(layer.v.subarray(4 * kvDim, 10 * kvDim)).toEqual(before[l].v.subarray(10 * kvDim, 16 * kvDim));
        for (let s = 4; s < 10; s++) {
          for (let h = 0; h < a.kvHeads; h++) {
            const o = (s + 6) * kvDim + h * a.headDim;
            const old = Float32Array.from(before[l].k.subarray(o, o + a.headDim), bf16);
            const want = rotateHalf(old, -6, rp.rope_theta!);
            const m = want.reduce((x, v) => Math.max(x, Math.abs(v)), 0);
            for (let d = 0; d < a.headDim; d++) {
              // one bf16 rounding: half an ulp of |want| <= 2^-8 |want|
              expect(Math.abs(bf16(layer.k[s * kvDim + h * a.headDim + d]) - want[d]), `${name} layer ${l} slot ${s}`).toBeLessThanOrEqual(2 ** -8 * Math.abs(want[d]) + 1e-6 * m);
            }
          }
        }
      });
    }
  });

  it('the CLI with --ctx: identical to no --ctx until the cache fills, then keeps decoding', () => {
    const e = expected('qwen3');
    const base = ['--model', join(fixtures, 'qwen3'), '--tokens', e.prompt.join(','), '--new', '8', '--json'];
    const roomy = runCli([...base, '--ctx', String(e.prompt.length + 8)]);
    expect(roomy.status).toBe(0);
    const full = JSON.parse(roomy.out) as { tokens: number[]; logits: number[][] };
    expect(full.tokens).toEqual(e.tokens);

    // prompt + 2 fit; the 3rd new token's step shifts the cache (keep 4, drop half of the rest)
    const tight = runCli([...base, '--ctx', String(e.prompt.length + 2), '--keep', '4']);
    expect(tight.err).toBe('');
    expect(tight.status).toBe(0);
    const got = JSON.parse(tight.out) as { tokens: number[]; logits: number[][] };
    expect(got.tokens).toHaveLength(8);
    expect(got.logits.slice(0, 3)).toEqual(full.logits.slice(0, 3));
    expect(got.logits[3]).not.toEqual(full.logits[3]); // the shift dropped context
  });
});
