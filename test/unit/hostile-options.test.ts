// Hostile input to everything that is not a tensor call: the Rope constructor (on both
// engines: the native one re-checks the geometry it is handed), cosSin, fromConfig and fromGGUF.
// Each refusal: TypeError/RangeError with a message naming the parameter (or the config key), and
// any array handed in left as it was. test/unit/validate.test.ts has the first rows of the constructor
// table; these are the rest of each option's bad values. (Split from hostile.test.ts for length.)
import { describe, expect, it } from 'vitest';
import { Rope } from '../../lib/index.js';
import { createRope, nativeAddon } from '../../lib/internal.js';

const ENGINES: ('js' | 'native' | 'wasm')[] = nativeAddon ? ['js', 'wasm', 'native'] : ['js', 'wasm'];
const R = RangeError;
const TE = TypeError;
type Kind = typeof TypeError | typeof RangeError;

function refused(fn: () => unknown, kind: Kind, names: string | RegExp, arrays: ArrayBufferView[] = []): void {
  const before = arrays.map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice());
  let err: unknown = 'returned';
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(kind);
  if (typeof names === 'string') expect((err as Error).message).toContain(names);
  else expect((err as Error).message).toMatch(names);
  arrays.forEach((a, i) => expect(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).toEqual(before[i]));
}

const yarn = { type: 'yarn', factor: 4, originalMaxPositions: 4096 };
const ctorCases: [string, Kind, string, unknown][] = [
  ['options a string', TE, 'options', 'headDim'], ['options a function', TE, 'options', () => 8], ['options an array', TE, 'headDim', []],
  ...([null, true, 8n, '8', [8]] as unknown[]).map((v): [string, Kind, string, unknown] => [`headDim ${String(v)}`, TE, 'headDim', { headDim: v }]),
  ...[-Infinity, -0, 2 ** 24 + 2, Number.MAX_VALUE, Number.MIN_VALUE].map(
    (v): [string, Kind, string, unknown] => [`headDim ${v}`, R, 'headDim', { headDim: v }],
  ),
  ...([null, '8', true] as unknown[]).map((v): [string, Kind, string, unknown] => [`rotaryDim ${String(v)}`, TE, 'rotaryDim', { headDim: 8, rotaryDim: v }]),
  ...[Infinity, -Infinity, 2 ** 31, 2 ** 53, -0, 1].map((v): [string, Kind, string, unknown] => [`rotaryDim ${v}`, R, 'rotaryDim', { headDim: 8, rotaryDim: v }]),
  ['rotaryDim past the native scratch cap', R, 'rotaryDim', { headDim: 16386, rotaryDim: 16386 }],
  ...([null, true, 10000n] as unknown[]).map((v): [string, Kind, string, unknown] => [`base ${String(v)}`, TE, 'base', { headDim: 8, base: v }]),
  ['base -0', R, 'base', { headDim: 8, base: -0 }], ['base -MAX_VALUE', R, 'base', { headDim: 8, base: -Number.MAX_VALUE }],
  ...([1, 'HALF', {}] as unknown[]).map((v): [string, Kind, string, unknown] => [`style ${String(v)}`, TE, 'style', { headDim: 8, style: v }]),
  ...([NaN, -1, 1.5, Infinity, 2 ** 53] as unknown[]).map((v): [string, Kind, string, unknown] => [`maxPositions ${v}`, R, 'maxPositions', { headDim: 8, maxPositions: v }]),
  ...(['4096', null] as unknown[]).map((v): [string, Kind, string, unknown] => [`maxPositions ${String(v)}`, TE, 'maxPositions', { headDim: 8, maxPositions: v }]),
  ['mropeSection a string', TE, 'mropeSection', { headDim: 8, mropeSection: 'abc' }],
  ['mropeSection an Int32Array', TE, 'mropeSection', { headDim: 8, mropeSection: Int32Array.of(2, 1, 1) }],
  ['mropeSection with a string entry', TE, 'mropeSection[2]', { headDim: 8, mropeSection: [2, 1, '1'] }],
  ['mropeSection with NaN', R, 'mropeSection[2]', { headDim: 8, mropeSection: [2, 1, NaN] }],
  ['mropeSection with -1', R, 'mropeSection[2]', { headDim: 8, mropeSection: [3, 2, -1] }],
  ['mropeSection with 1.5', R, 'mropeSection[1]', { headDim: 8, mropeSection: [2, 1.5, 0.5] }],
  ['mropeSection of 5 sections', R, 'mropeSection', { headDim: 8, mropeSection: [1, 1, 1, 1, 0] }],
  ['mropeSection with 2^53', R, 'mropeSection', { headDim: 8, mropeSection: [2 ** 53, 1, 1] }],
  ['mropeInterleaved a string', TE, 'mropeInterleaved', { headDim: 8, mropeSection: [2, 1, 1], mropeInterleaved: 'yes' }],
  ['mropeInterleaved null', TE, 'mropeInterleaved', { headDim: 8, mropeSection: [2, 1, 1], mropeInterleaved: null }],
  ['mropeInterleaved without mropeSection', TE, 'mropeInterleaved', { headDim: 8, mropeInterleaved: true }],
  ['rotarySlice null', TE, 'rotarySlice', { headDim: 8, rotaryDim: 4, rotarySlice: null }],
  ['rotarySlice a number', TE, 'rotarySlice', { headDim: 8, rotaryDim: 4, rotarySlice: 4 }],
  ['scaling a string', TE, 'scaling', { headDim: 8, scaling: 'linear' }],
  ['scaling without type', TE, 'scaling.type', { headDim: 8, scaling: {} }],
  ['scaling.factor missing', TE, 'scaling.factor', { headDim: 8, scaling: { type: 'linear' } }],
  ['scaling.factor a string', TE, 'scaling.factor', { headDim: 8, scaling: { type: 'linear', factor: '2' } }],
  ...[NaN, 0, -1, Infinity, -Infinity].map((v): [string, Kind, string, unknown] => [`scaling.factor ${v}`, R, 'scaling.factor', { headDim: 8, scaling: { type: 'linear', factor: v } }]),
  ['dynamic without originalMaxPositions', TE, 'scaling.originalMaxPositions', { headDim: 8, scaling: { type: 'dynamic', factor: 2 } }],
  ['yarn betaFast NaN', R, 'scaling.betaFast', { headDim: 8, scaling: { ...yarn, betaFast: NaN } }],
  ['yarn truncate a string', TE, 'scaling.truncate', { headDim: 8, scaling: { ...yarn, truncate: 'no' } }],
  ['yarn attentionFactor -1', R, 'scaling.attentionFactor', { headDim: 8, scaling: { ...yarn, attentionFactor: -1 } }],
  ['yarn mscale Infinity', R, 'scaling.mscale', { headDim: 8, scaling: { ...yarn, mscale: Infinity } }],
  ['llama3 lowFreqFactor >= highFreqFactor', R, 'scaling.lowFreqFactor', { headDim: 8, scaling: { type: 'llama3', factor: 8, lowFreqFactor: 4, highFreqFactor: 1, originalMaxPositions: 8192 } }],
  ['llama3 without lowFreqFactor', TE, 'scaling.lowFreqFactor', { headDim: 8, scaling: { type: 'llama3', factor: 8 } }],
  ['longrope shortFactor too short', R, 'scaling.shortFactor', { headDim: 8, scaling: { type: 'longrope', shortFactor: [1, 1], longFactor: [1, 1, 1, 1], originalMaxPositions: 4096 } }],
  ['longrope shortFactor with NaN', R, 'scaling.shortFactor[2]', { headDim: 8, scaling: { type: 'longrope', shortFactor: [1, 1, NaN, 1], longFactor: [1, 1, 1, 1], originalMaxPositions: 4096 } }],
  ['longrope longFactor with 0', R, 'scaling.longFactor[0]', { headDim: 8, scaling: { type: 'longrope', shortFactor: [1, 1, 1, 1], longFactor: [0, 1, 1, 1], originalMaxPositions: 4096 } }],
  ['longrope shortFactor a string', TE, 'scaling.shortFactor', { headDim: 8, scaling: { type: 'longrope', shortFactor: 'x', longFactor: [1, 1, 1, 1], originalMaxPositions: 4096 } }],
  ['freqFactors with -1', R, 'scaling.factors[2]', { headDim: 8, scaling: { type: 'freqFactors', factors: [1, 1, -1, 1] } }],
  ['freqFactors with Infinity', R, 'scaling.factors[2]', { headDim: 8, scaling: { type: 'freqFactors', factors: [1, 1, Infinity, 1] } }],
  ['freqFactors sparse', TE, 'scaling.factors[1]', { headDim: 8, scaling: { type: 'freqFactors', factors: [1, , 1, 1] } }],
  ['freqFactors of the wrong length', R, 'scaling.factors', { headDim: 8, scaling: { type: 'freqFactors', factors: [1] } }],
];

describe.each(ENGINES)('%s engine: the constructor refuses bad options', (engine) => {
  it.each(ctorCases)('%s', (_n, kind, names, options) => refused(() => createRope(options as never, engine), kind, names));

  it('accepts the extremes it documents: rotaryDim 8192 of headDim 8194, and rotates one head right', () => {
    const rope = createRope({ headDim: 8194, rotaryDim: 8192 }, engine);
    const x = new Float32Array(8194).fill(1);
    rope.apply(x, { heads: 1, positions: 0 }); // position 0: the identity
    expect(x.every((v) => v === 1)).toBe(true);
    rope.apply(x, { heads: 1, positions: 1 });
    expect(x[0]).toBe(Math.fround(Math.fround(Math.cos(1)) - Math.fround(Math.sin(1)))); // pair 0: invFreq 1
    expect([x[8192], x[8193]]).toEqual([1, 1]); // past rotaryDim: untouched
  });
});

describe('cosSin refuses bad positions, a given Int32Array untouched', () => {
  const rope = new Rope({ headDim: 8 });
  const mrope = new Rope({ headDim: 8, mropeSection: [2, 1, 1] });
  const detached = Int32Array.of(1, 2);
  structuredClone(detached.buffer, { transfer: [detached.buffer] });
  const cases: [string, Kind, string, unknown, Rope?][] = [
    ...([undefined, null, '5', {}, true, 5n, () => 1, { length: 1, 0: 1 }] as unknown[]).map((v): [string, Kind, string, unknown] => [`${String(v)}`, TE, 'positions', v]),
    ...[NaN, -1, -0.5, 1.5, Infinity, -Infinity, 2 ** 31, 2 ** 53, Number.MAX_VALUE].map((v): [string, Kind, string, unknown] => [`${v}`, R, 'positions', v]),
    ['[]', R, 'positions.length 0', []], ['an empty Int32Array', R, 'positions.length 0', new Int32Array(0)],
    ['a transferred Int32Array', R, 'positions.length 0', detached],
    ['[1, NaN]', R, 'positions[1]', [1, NaN]], ['[1, -1]', R, 'positions[1]', [1, -1]], ['[2^31]', R, 'positions[0]', [2 ** 31]],
    ['[1, 2^53]', R, 'positions[1]', [1, 2 ** 53]], ['[1, "2"]', TE, 'positions[1]', [1, '2']], ['[1, , 2]', TE, 'positions[1]', [1, , 2]],
    ['Int32Array with -1', R, 'positions[1]', Int32Array.of(0, -1)], ['Int32Array with -2^31', R, 'positions[0]', Int32Array.of(-(2 ** 31))],
    ['a Float32Array', TE, 'Float32Array', new Float32Array(2)], ['a BigInt64Array', TE, 'BigInt64Array', new BigInt64Array(2)],
    ['M-RoPE: 4 positions for 3 rows', R, 'positions.length 4', [1, 2, 3, 4], mrope], ['M-RoPE: []', R, 'positions.length 0', [], mrope],
  ];
  it.each(cases)('%s', (_n, kind, names, p, r) => {
    refused(() => (r ?? rope).cosSin(p as never), kind, names, ArrayBuffer.isView(p) && p.buffer.byteLength > 0 ? [p] : []);
  });
});

describe('fromConfig and fromGGUF refuse obviously bad objects', () => {
  const cfg: [string, Kind, string | RegExp, unknown][] = [
    ...([null, undefined, 42, 'config', true, []] as unknown[]).map((v): [string, Kind, string, unknown] => [`${JSON.stringify(v) ?? 'undefined'}`, TE, 'config', v]),
    ['{}', TE, 'head_dim', {}], ['head_dim NaN', TE, 'head_dim', { head_dim: NaN }], ['head_dim a string', TE, 'head_dim', { head_dim: '128' }],
    ['head_dim 7', R, 'headDim', { head_dim: 7 }], ['head_dim 2^31', R, 'headDim', { head_dim: 2 ** 31 }],
    ['num_attention_heads 0', R, /headDim|num_attention_heads/, { hidden_size: 64, num_attention_heads: 0 }],
    ['rope_theta -1', R, 'base', { head_dim: 8, rope_theta: -1 }], ['rope_theta a string', TE, 'rope_theta', { head_dim: 8, rope_theta: '1e4' }],
    ['rope_scaling a string', TE, 'rope_scaling', { head_dim: 8, rope_scaling: 'linear' }],
    ['rope_scaling.rope_type unknown', TE, 'rope_type', { head_dim: 8, rope_scaling: { rope_type: 'bogus' } }],
    ['rope_scaling linear factor -1', R, 'factor', { head_dim: 8, rope_scaling: { rope_type: 'linear', factor: -1 } }],
    ['partial_rotary_factor 2', R, 'rotaryDim', { head_dim: 8, partial_rotary_factor: 2 }],
    ['partial_rotary_factor NaN', TE, 'partial_rotary_factor', { head_dim: 8, partial_rotary_factor: NaN }],
    ['max_position_embeddings -1', R, 'maxPositions', { head_dim: 8, max_position_embeddings: -1 }],
  ];
  // (objects as a Llama config: a config without model_type is refused before its values are read)
  const asLlama = (c: unknown): unknown => (typeof c === 'object' && c !== null && !Array.isArray(c) ? { model_type: 'llama', ...c } : c);
  it.each(cfg)('fromConfig(%s)', (_n, kind, names, c) => refused(() => Rope.fromConfig(asLlama(c) as never), kind, names));

  const llama = { 'general.architecture': 'llama', 'llama.attention.key_length': 8 };
  const gguf: [string, Kind, string, unknown, unknown?][] = [
    ...([null, undefined, 42, 'gguf'] as unknown[]).map((v): [string, Kind, string, unknown] => [`${String(v)}`, TE, 'metadata', v]),
    ['{}', TE, 'general.architecture', {}], ['architecture 42', TE, 'general.architecture', { 'general.architecture': 42 }],
    ['architecture unknown', TE, 'nope', { 'general.architecture': 'nope' }],
    ['llama without head size', TE, 'key_length', { 'general.architecture': 'llama' }],
    ['freq_base NaN', TE, 'freq_base', { ...llama, 'llama.rope.freq_base': NaN }],
    ['dimension_count 7', R, 'rotaryDim', { ...llama, 'llama.rope.dimension_count': 7 }],
    ['key_length 2^53', R, 'headDim', { 'general.architecture': 'llama', 'llama.attention.key_length': 2 ** 53 }],
    ['scaling.type unknown', TE, 'scaling.type', { ...llama, 'llama.rope.scaling.type': 'bogus' }],
    ['tensors null', TE, 'tensors', llama, null], ['tensors a number', TE, 'tensors', llama, 5],
    ['tensors.ropeFreqs a string', TE, 'ropeFreqs', llama, { ropeFreqs: 'x' }],
    ['tensors.ropeFreqs with NaN', TE, 'ropeFreqs', llama, { ropeFreqs: [1, NaN, 1, 1] }],
    ['tensors.ropeFreqs too short', R, 'factors', llama, { ropeFreqs: [1, 1] }],
  ];
  it.each(gguf)('fromGGUF(%s)', (_n, kind, names, m, t) => refused(() => Rope.fromGGUF(m as never, t as never), kind, names, ArrayBuffer.isView(t) ? [t] : []));
});
