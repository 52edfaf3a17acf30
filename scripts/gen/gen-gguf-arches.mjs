#!/usr/bin/env node
// Writes lib/generated/gguf-arches.ts from a llama.cpp source tree: the architecture names
// (src/llama-arch.cpp LLM_ARCH_NAMES), the pair style of each (src/llama-model.cpp
// llama_model_rope_type()) and the per-layer facts each architecture's load_arch_hparams sets
// (src/models/*.cpp: sliding-window pattern, SWA rope base/scale, NoPE step, attention-free layers).
//
//   node scripts/gen/gen-gguf-arches.mjs <llama.cpp dir> [--commit SHA] [--tag bNNNN] [--out file] [--check]
//
// <llama.cpp dir> is a checkout (the commit is read with git) or any tree holding src/ (then give
// --commit, or put the SHA in <dir>/COMMIT). --check compares with the committed file instead of
// writing it. What the script cannot read it records as `unread` (with the source text), and
// lib/models/gguf.ts refuses per-layer reading for that architecture instead of guessing.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};
const check = args.includes('--check') && args.splice(args.indexOf('--check'), 1);
let commit = opt('--commit');
const tag = opt('--tag');
const out = opt('--out') ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'lib', 'generated', 'gguf-arches.ts');
const root = args[0];
if (!root) {
  console.error('usage: node scripts/gen/gen-gguf-arches.mjs <llama.cpp dir> [--commit SHA] [--tag bNNNN] [--out file] [--check]');
  process.exit(2);
}
if (!commit) {
  try {
    commit = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    if (existsSync(join(root, 'COMMIT'))) commit = readFileSync(join(root, 'COMMIT'), 'utf8').trim();
  }
}
if (!/^[0-9a-f]{40}$/.test(commit ?? '')) {
  console.error(`need the llama.cpp commit: ${root} is not a git checkout and has no COMMIT file; pass --commit SHA`);
  process.exit(2);
}
const src = (p) => readFileSync(join(root, 'src', p), 'utf8');
const fail = (msg) => {
  console.error(`gen-gguf-arches: ${msg}`);
  process.exit(1);
};

/** The text of the brace block that starts at the first '{' at or after `from`. */
function block(text, from) {
  const open = text.indexOf('{', from);
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return text.slice(open + 1, i);
  }
  fail(`unbalanced braces after offset ${from}`);
}
const stripComments = (s) => s.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');

// ---- 1. names: LLM_ARCH_NAMES in llama-arch.cpp ---------------------------------------------
const archCpp = src('llama-arch.cpp');
const namesAt = archCpp.indexOf('LLM_ARCH_NAMES');
if (namesAt < 0) fail('LLM_ARCH_NAMES not found in src/llama-arch.cpp');
const names = new Map(); // LLM_ARCH_X -> 'x'
for (const m of block(archCpp, namesAt).matchAll(/\{\s*(LLM_ARCH_\w+)\s*,\s*"([^"]+)"\s*\}/g)) {
  if (m[1] !== 'LLM_ARCH_UNKNOWN') names.set(m[1], m[2]);
}
if (names.size < 50) fail(`only ${names.size} names read from LLM_ARCH_NAMES`);

// ---- 2. pair style: llama_model_rope_type() in llama-model.cpp --------------------------------
const modelCpp = src('llama-model.cpp');
const ropeAt = modelCpp.search(/llama_rope_type\s+llama_model_rope_type\s*\(/);
if (ropeAt < 0) fail('llama_model_rope_type not found in src/llama-model.cpp');
const ropeBody = stripComments(block(modelCpp, ropeAt));
const TYPE = { NONE: 'none', NORM: 'norm', NEOX: 'neox', MROPE: 'mrope', IMROPE: 'imrope', VISION: 'vision' };
const ropeOf = new Map();
let pending = [];
for (const m of ropeBody.matchAll(/case\s+(LLM_ARCH_\w+)\s*:|return\s+([^;]+);/g)) {
  if (m[1]) {
    pending.push(m[1]);
    continue;
  }
  const ret = m[2].trim();
  let value;
  const plain = /^LLAMA_ROPE_TYPE_(\w+)$/.exec(ret);
  const cond = /^(.+?)\s*\?\s*LLAMA_ROPE_TYPE_(\w+)\s*:\s*LLAMA_ROPE_TYPE_(\w+)$/.exec(ret);
  if (plain) value = TYPE[plain[1]];
  else if (cond) {
    // use_mrope() is rope_sections[0] > 0 && rope_sections[1] > 0 (llama-hparams.cpp): from the
    // rope.dimension_sections key. Any other condition is recorded as text.
    const c = cond[1].replace(/\s+/g, ' ').trim();
    value = /hparams\.use_mrope\(\)$/.test(c)
      ? { ifSections: TYPE[cond[2]], else: TYPE[cond[3]] }
      : { condition: c, then: TYPE[cond[2]], else: TYPE[cond[3]] };
  } else fail(`llama_model_rope_type: cannot read 'return ${ret}'`);
  for (const a of pending) ropeOf.set(a, value);
  pending = [];
}

// ---- 3. per-layer facts: each architecture's load_arch_hparams -------------------------------
const classOf = new Map(); // LLM_ARCH_X -> llama_model_y
const mapAt = modelCpp.indexOf('llama_model_mapping');
if (mapAt >= 0) {
  for (const m of block(modelCpp, mapAt).matchAll(/case\s+(LLM_ARCH_\w+)\s*:\s*return\s+new\s+(\w+)\s*\(/g)) classOf.set(m[1], m[2]);
}
const modelFiles = new Map(); // class -> { file, load_arch_hparams body }
const classText = new Map(); // class -> the text of every file defining one of its members
const parentOf = new Map(); // class -> base class (models.h: struct llama_model_x : public llama_model_y)
const modelsDir = join(root, 'src', 'models');
if (existsSync(modelsDir)) {
  for (const f of readdirSync(modelsDir).filter((f) => f.endsWith('.cpp') || f.endsWith('.h')).sort()) {
    const text = stripComments(readFileSync(join(modelsDir, f), 'utf8'));
    for (const m of text.matchAll(/struct\s+(llama_model_\w+)\s*:\s*public\s+(llama_model_\w+)/g)) parentOf.set(m[1], m[2]);
    if (!f.endsWith('.cpp')) continue;
    for (const c of new Set([...text.matchAll(/\b(llama_model_\w+)::/g)].map((m) => m[1]))) classText.set(c, (classText.get(c) ?? '') + text);
    for (const m of text.matchAll(/\b(llama_model_\w+)::load_arch_hparams\s*\(/g)) {
      modelFiles.set(m[1], { file: `src/models/${f}`, body: block(text, m.index) });
    }
  }
}
/** The class and its bases, nearest first. */
const chain = (c) => {
  const out = [];
  for (let k = c; k && !out.includes(k); k = parentOf.get(k)) out.push(k);
  return out;
};
const hparamsH = src('llama-hparams.h');
const defaultNoRopeStep = Number(/n_no_rope_layer_step\s*=\s*(\d+)\s*;/.exec(hparamsH)?.[1]);
const defaultSwaBase = Number(/rope_freq_base_train_swa\s*=\s*([\d.]+)f?\s*;/.exec(hparamsH)?.[1]);
if (!(defaultNoRopeStep > 0) || !(defaultSwaBase > 0)) fail('defaults of n_no_rope_layer_step / rope_freq_base_train_swa not found in src/llama-hparams.h');

/** The condition of the innermost `if (...) {` (or its `else {`) around offset `at` in body. */
function enclosingAll(body, at) {
  const stack = [];
  let closed = null; // the block just closed, for a following `else`
  const re = /\b(if\s*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)|else)\s*\{|\{|\}/g;
  let m;
  while ((m = re.exec(body)) && m.index < at) {
    if (m[0] === '}') closed = stack.pop() ?? null;
    else if (m[1]?.startsWith('if')) stack.push({ cond: m[1].replace(/^if\s*\(|\)$/g, '').replace(/\s+/g, ' ').trim(), neg: false });
    else if (m[1] === 'else') stack.push(closed ? { cond: closed.cond, neg: true } : null);
    else stack.push(null);
  }
  return stack.filter((c) => c !== null);
}
const enclosing = (body, at) => enclosingAll(body, at).pop() ?? null;

/** A condition in GGUF terms, or the source text when it is not one of these. */
function gguf(c) {
  if (c === null) return 'always';
  const t = c.cond;
  let r;
  if (/n_swa\s*>\s*0$/.test(t) || /is_swa\s*&&\s*hparams\.n_swa\s*>\s*0$/.test(t)) r = 'sliding_window>0';
  else if (/^found_swa && hparams\.n_swa == 0$/.test(t)) r = 'sliding_window==0';
  else if ((r = /^hparams\.n_layer\(\)\s*==\s*(\d+)$/.exec(t))) r = `block_count==${r[1]}`;
  else return { source: (c.neg ? 'else of ' : '') + t };
  if (!c.neg) return r;
  return { 'sliding_window>0': 'sliding_window<=0', 'sliding_window==0': 'sliding_window!=0' }[r] ?? { source: `else of ${t}` };
}

// llama-context.cpp: `if (model.arch == LLM_ARCH_X && mscale_all_dims != 1.0f) mscale = mscale_all_dims;`
const contextCpp = src('llama-context.cpp');
const mscaleIsAllDim = new Set([...contextCpp.matchAll(/model\.arch\s*==\s*(LLM_ARCH_\w+)\s*&&\s*mscale_all_dims\s*!=\s*1/g)].map((m) => m[1]));

function layerFacts(arch) {
  const cls = classOf.get(arch);
  const classes = cls ? chain(cls) : [];
  const mf = classes.map((c) => modelFiles.get(c)).find((x) => x !== undefined);
  if (!mf) return { file: null };
  const { body } = mf;
  const text = classes.map((c) => classText.get(c) ?? '').join('\n');
  const facts = { file: mf.file };
  // Whether the graph reads per-layer rope settings at all (llama_model::get_rope_freq_base(il),
  // hparams.n_rot(il), n_embd_head_k(il)): where it does not, SWA layers rotate like the others.
  const graph = text.split(body).join('');
  const perLayerBase = /get_rope_freq_base\s*\(|rope_freq_base_train_swa/.test(graph);
  const perLayerRot = /n_rot\s*\(\s*il\s*\)|n_embd_head_k\s*\(\s*il\s*\)/.test(graph);
  // Sliding-window layers: set_swa_pattern(period[, dense_first]) with the period from the
  // sliding_window_pattern key when scalar, or the key read as a per-layer bool array.
  const period = /uint32_t\s+swa_period\s*=\s*(\d+)\s*;/.exec(body);
  const setPat = /set_swa_pattern\s*\(\s*(swa_period|\d+)\s*(?:,\s*(true|false))?\s*\)/.exec(body);
  const arr = /get_key_or_arr\s*\(\s*LLM_KV_ATTENTION_SLIDING_WINDOW_PATTERN\s*,\s*hparams\.is_swa_impl[^;]*?(,\s*false\s*)?\)\s*;/.exec(body);
  const scalarRead = /(?:const\s+auto\s+(\w+)\s*=\s*)?ml\.get_key_or_arr\s*\(\s*LLM_KV_ATTENTION_SLIDING_WINDOW_PATTERN\s*,\s*swa_period/.exec(body);
  const isKeyRead = (c) => c !== null && (c.cond.includes('SLIDING_WINDOW_PATTERN, swa_period') || (scalarRead?.[1] !== undefined && c.cond === scalarRead[1]));
  const otherSwa = /is_swa_impl\s*\[[^\]]*\]\s*=/.test(body);
  if (otherSwa && (perLayerBase || perLayerRot)) facts.unread = 'sets is_swa_impl per layer in code';
  if ((setPat || arr) && (perLayerBase || perLayerRot)) {
    const swa = {};
    if (setPat) {
      swa.period = setPat[1] === 'swa_period' ? Number(period?.[1]) : Number(setPat[1]);
      if (!(swa.period >= 0)) fail(`${mf.file}: swa_period default not found`);
      swa.denseFirst = setPat[2] === 'true';
      swa.periodKey = setPat[1] === 'swa_period' && scalarRead !== null;
    }
    if (arr) {
      swa.arrayKey = true;
      if (!arr[1] && !setPat) swa.required = true; // get_key_or_arr(..., required = true)
    }
    // "if the key is a scalar: period, else: the array" is one rule; its condition is the one outside.
    const stack = enclosingAll(body, (setPat ?? arr).index).filter((c) => !isKeyRead(c));
    const when = gguf(stack.length ? stack[stack.length - 1] : null);
    if (typeof when === 'object') facts.unread = `sliding-window pattern set under 'if (${when.source})'`;
    else swa.when = when;
    swa.baseInherit = /rope_freq_base_train_swa\s*=\s*hparams\.rope_freq_base_train\s*;/.test(body);
    swa.scaleInherit = /rope_freq_scale_train_swa\s*=\s*hparams\.rope_freq_scale_train\s*;/.test(body);
    swa.baseKey = /LLM_KV_ROPE_FREQ_BASE_SWA/.test(body);
    // rope_freqs reach the sliding layers too unless the graph gives them to full layers only
    // (gemma4: `if (!hparams.is_swa(il)) { freq_factors = model.layers[il].rope_freqs; }`).
    swa.factors = !/if\s*\(\s*!\s*hparams\.is_swa\s*\(\s*il\s*\)\s*\)\s*\{[^}]*rope_freqs/.test(graph);
    swa.perLayerBase = perLayerBase;
    swa.perLayerRot = perLayerRot;
    facts.swa = swa;
  }
  // NextN/MTP blocks (the last nextn_predict_layers of block_count): beyond hparams.n_layer(), so
  // set_swa_pattern and the recurrent-layer loops leave them full attention.
  // Each loop sees n_layer() as it is then: only statements after the nextn read exclude them.
  const nextnAt = body.search(/LLM_KV_NEXTN_PREDICT_LAYERS/);
  if (nextnAt >= 0) {
    const swaAt = body.search(/set_swa_pattern\s*\(|LLM_KV_ATTENTION_SLIDING_WINDOW_PATTERN\s*,\s*hparams\.is_swa_impl/);
    const recrAt = body.search(/is_recr_impl/);
    facts.nextn = { swa: swaAt > nextnAt, recurrent: recrAt > nextnAt };
  }
  // MLA-style attention: the graph ropes a separate q_pe/k_pe view of rope.dimension_count values.
  if (/\bq_pe\s*=\s*ggml_rope_ext\s*\(/.test(text)) facts.ropeView = 'q_pe';
  // YaRN keys the architecture reads (llama.cpp reads no yarn_* key for the others: beta_fast 32,
  // beta_slow 1, no log multiplier).
  const yarn = {};
  if (/LLM_KV_ROPE_SCALING_YARN_BETA_FAST/.test(body)) yarn.betaKeys = true;
  if (/LLM_KV_ROPE_SCALING_YARN_LOG_MUL/.test(body)) {
    yarn.logMul = /rope_yarn_log_mul\s*\/=\s*0\.1f?\s*;/.test(body) ? 'over0.1' : 'raw';
    if (mscaleIsAllDim.has(arch)) yarn.mscaleIsAllDim = true;
  }
  if (Object.keys(yarn).length) facts.yarn = yarn;
  // NoPE layers. llama4/afmoe/smollm3 graphs: use_rope = (il + 1) % step != 0 (llama4, afmoe:
  // and step > 0); smallthinker: use_rope = step == n_layer || il % step != 0.
  const formA = /\(\s*il\s*\+\s*1\s*\)\s*%\s*hparams\.n_no_rope_layer_step/.test(text);
  const formB = /n_no_rope_layer_step\s*==\s*n_layer\s*\|\|\s*il\s*%\s*hparams\.n_no_rope_layer_step/.test(text);
  if (formA || formB) {
    const lit = /n_no_rope_layer_step\s*=\s*(\d+)\s*;/.exec(body);
    const nope = { step: lit ? Number(lit[1]) : defaultNoRopeStep, form: formA ? 'il+1' : 'il' };
    const all = /n_no_rope_layer_step\s*=\s*hparams\.n_layer\(\)\s*;/.exec(body);
    if (all) {
      const when = gguf(enclosing(body, all.index));
      if (typeof when === 'object') facts.unread = `NoPE step set under 'if (${when.source})'`;
      else nope.blockCountWhen = when; // step = block_count under that condition
    }
    facts.noRope = nope;
  }
  // Layers without attention (hybrid models): recurrent where head_count_kv[il] == 0, or from
  // attention.recurrent_layers / full_attention_interval.
  if (/is_recr_impl\s*\[\s*\w+\s*\]\s*=\s*hparams\.n_head_kv\s*\(\s*\w+\s*\)\s*==\s*0/.test(body)) facts.noAttention = { headCountKvZero: true };
  else if (/LLM_KV_ATTENTION_RECURRENT_LAYERS/.test(body)) {
    const iv = /full_attn_interval\s*=\s*(\d+)\s*;/.exec(body);
    facts.noAttention = { recurrentLayersKey: true, fullAttentionInterval: iv ? Number(iv[1]) : null };
  } else if (/is_recr_impl/.test(body) && !/std::fill\s*\(\s*hparams\.is_recr_impl[^;]*true\s*\)/.test(body)) {
    facts.unread = 'sets is_recr_impl per layer in code';
  }
  return facts;
}

// ---- 4. write ------------------------------------------------------------------------------
const entries = [];
const missing = [];
for (const [id, name] of names) {
  const rope = ropeOf.get(id);
  if (rope === undefined) {
    missing.push(name);
    continue;
  }
  const e = { rope, ...layerFacts(id) };
  if (e.file === null) delete e.file;
  entries.push([name, e]);
}
const lines = entries.map(([n, e]) => `  ${JSON.stringify(n)}: ${JSON.stringify(e)},`);
const text = `// GENERATED by scripts/gen/gen-gguf-arches.mjs from llama.cpp ${commit}${tag ? ` (${tag})` : ''}: do not edit.
// rope: llama_model_rope_type() in src/llama-model.cpp ('norm' = pairs (2j, 2j+1), 'neox' = pairs
// (j, j + n_rot/2), 'mrope'/'imrope' = neox pairs with position sections; {ifSections} = MROPE when
// rope.dimension_sections has sections 0 and 1 > 0 (hparams.use_mrope())). The other fields are read
// from the architecture's load_arch_hparams (file): swa = set_swa_pattern(period, denseFirst) with
// the period from attention.sliding_window_pattern (periodKey) or that key as a bool array
// (arrayKey), when = the GGUF condition it is set under, baseInherit/scaleInherit = SWA layers start
// from the full layers' rope base/scale (else ${defaultSwaBase} and 1), factors = rope_freqs apply to them, baseKey = rope.freq_base_swa
// read; noRope = the graph skips rope where (il + 1) % step == 0 (step = block_count when
// blockCountWhen holds); noAttention = layers with no attention (hybrid models); yarn = the yarn_*
// keys read; ropeView 'q_pe' = the graph ropes a separate q_pe/k_pe view of n_rot values (MLA) (betaKeys: yarn_beta_fast/slow; logMul: yarn_log_multiplier, 'over0.1' = divided by 0.1 on
// reading; mscaleIsAllDim: llama-context.cpp's mscale = mscale_all_dims for it); unread = something
// the generator could not read (per-layer reading is refused for that architecture).
// Architectures with no entry in llama_model_rope_type: ${missing.join(', ') || 'none'}.
import type { GgufArch } from '../models/gguf-arch-types.js';

export const LLAMA_CPP_COMMIT = '${commit}';
export const LLAMA_CPP_TAG = ${tag ? `'${tag}'` : 'undefined'};

export const GGUF_ARCHES: Readonly<Record<string, GgufArch>> = {
${lines.join('\n')}
};
`;
if (check) {
  const cur = existsSync(out) ? readFileSync(out, 'utf8') : '';
  if (cur !== text) fail(`${out} differs from what llama.cpp ${commit} gives; rerun without --check`);
  console.log(`${out} is up to date (${entries.length} architectures)`);
} else {
  writeFileSync(out, text);
  console.log(`wrote ${out}: ${entries.length} architectures from llama.cpp ${commit}`);
}
