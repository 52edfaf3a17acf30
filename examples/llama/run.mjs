#!/usr/bin/env node
// Greedy decoding of a Hugging Face Llama/Mistral/Qwen2/Qwen3 folder with rope-simd for RoPE.
//   node examples/llama/run.mjs --model DIR --tokens 1,2,3 --new 8 [--json] [--ctx N] [--keep K] [--cache f32|bf16] [--profile]
// --json    print exactly {"tokens": [...], "logits": [[...], ...]} (one row per generated token)
// --ctx N   KV-cache size; when full, keep the first K tokens (--keep, default 0) and drop half of
//           the rest, re-rotating the kept keys (context shift)
// --cache bf16  keep the KV cache in bf16 (default f32): applyQK writes the rotated keys and the
//           values into it rounded once
// --profile report on stderr the share of decode time spent in RoPE
// From a checkout: npm install (builds dist/), then run; 'rope-simd' resolves to this package.
import { parseArgs } from 'node:util';
import { backendInfo } from 'rope-simd';
import { Decoder, generate, loadModel } from './model.mjs';

const usage = 'usage: node examples/llama/run.mjs --model DIR --tokens 1,2,3 --new 8 [--json] [--ctx N] [--keep K] [--cache f32|bf16] [--profile]';

function int(name, s, min) {
  const v = Number(s);
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be an integer >= ${min}, got '${s}'\n${usage}`);
  return v;
}

function main() {
  const { values: a } = parseArgs({
    options: {
      model: { type: 'string' },
      tokens: { type: 'string' },
      new: { type: 'string', default: '8' },
      ctx: { type: 'string' },
      keep: { type: 'string', default: '0' },
      cache: { type: 'string', default: 'f32' },
      json: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
    },
  });
  if (!a.model || !a.tokens) throw new Error(usage);
  const prompt = a.tokens.split(',').map((s) => int('tokens', s.trim(), 0));
  const newTokens = int('new', a.new, 1);

  const model = loadModel(a.model);
  if (a.cache !== 'f32' && a.cache !== 'bf16') throw new Error(`--cache must be f32 or bf16, got '${a.cache}'\n${usage}`);
  const decoder = new Decoder(model, { ...(a.ctx === undefined ? {} : { ctx: int('ctx', a.ctx, 2) }), cacheDtype: a.cache });

  // Time the prompt (first step) apart from decoding (the steps after it).
  let t = performance.now();
  let ropeAt = 0;
  const times = { prefill: 0, prefillRope: 0, decode: 0, decodeRope: 0 };
  const { tokens, logits } = generate(decoder, prompt, newTokens, {
    nKeep: int('keep', a.keep, 0),
    onStep(i) {
      const now = performance.now();
      const phase = i === 0 ? 'prefill' : 'decode';
      times[phase] += now - t;
      times[`${phase}Rope`] += decoder.ropeMs - ropeAt;
      t = now;
      ropeAt = decoder.ropeMs;
    },
  });

  if (a.json) {
    console.log(JSON.stringify({ tokens, logits: logits.map((row) => Array.from(row)) }));
  } else {
    console.log(tokens.join(','));
  }
  if (a.profile) {
    const pct = (part, whole) => (whole > 0 ? ((100 * part) / whole).toFixed(2) : '0.00');
    const steps = newTokens - 1;
    console.error(`rope-simd backend: ${backendInfo.backend} (${backendInfo.isa})`);
    console.error(`prefill: ${prompt.length} tokens, ${times.prefill.toFixed(2)} ms, RoPE ${times.prefillRope.toFixed(3)} ms (${pct(times.prefillRope, times.prefill)}%)`);
    console.error(`decode: ${steps} tokens, ${times.decode.toFixed(2)} ms, RoPE ${times.decodeRope.toFixed(3)} ms (${pct(times.decodeRope, times.decode)}% of decode time)`);
  }
}

try {
  main();
} catch (e) {
  console.error(`run.mjs: ${e.message}`); // what was wrong, without a stack
  process.exitCode = 1;
}
