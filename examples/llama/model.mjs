// A small Llama-family decoder (Llama, Mistral, Qwen2, Qwen3) in plain JS, batch 1, float32
// activations with float64 accumulation. It uses rope-simd the way an inference engine would:
// one fused QKV projection per layer writes [tokens, q | k | v] into a preallocated buffer, RoPE
// rotates q in place inside that buffer and writes the rotated keys and the values straight into a
// preallocated KV cache in the same call (applyQK with a token stride and its cache option; f32 or
// bf16), and a full cache is shifted by re-rotating the kept keys (llama.cpp's K-shift) instead of
// recomputing them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rope } from 'rope-simd';
import { readModelTensors } from './safetensors.mjs';

export const ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM'];

/** config.json and weights of a Hugging Face model folder, checked against what this decoder runs. */
export function loadModel(dir) {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const arch = config.architectures?.[0];
  if (!ARCHITECTURES.includes(arch)) throw new Error(`${dir}: architecture ${arch}; this example runs ${ARCHITECTURES.join(', ')}`);
  if ((config.hidden_act ?? 'silu') !== 'silu') throw new Error(`${dir}: hidden_act ${config.hidden_act}; the example's MLP is SwiGLU (silu)`);
  return { config, arch, tensors: readModelTensors(dir) };
}

function weight(tensors, name, ...shape) {
  const t = tensors.get(name);
  if (!t) throw new Error(`tensor ${name} is missing from the checkpoint`);
  if (t.shape.join() !== shape.join()) throw new Error(`tensor ${name} has shape [${t.shape}], expected [${shape}]`);
  return t.data;
}

/** out[t, o] = bias[o] + sum_i x[t, i] * w[o, i] for t < n (w is [outDim, inDim] like nn.Linear);
 * rows of out are outStride apart, so a projection can write into part of a wider row. */
function linear(out, outStride, x, n, w, bias, outDim, inDim) {
  for (let t = 0; t < n; t++) {
    const xo = t * inDim;
    for (let o = 0; o < outDim; o++) {
      let s = bias ? bias[o] : 0;
      const wo = o * inDim;
      for (let i = 0; i < inDim; i++) s += x[xo + i] * w[wo + i];
      out[t * outStride + o] = s;
    }
  }
}

/** RMSNorm of `count` rows of `dim` values, row r at src[r*stride], written at dst[r*stride]. */
function rmsNorm(dst, src, count, dim, stride, w, eps) {
  for (let r = 0; r < count; r++) {
    const o = r * stride;
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += src[o + i] * src[o + i];
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) dst[o + i] = w[i] * (src[o + i] * inv);
  }
}

export class Decoder {
  /**
   * @param model from loadModel
   * @param ctx KV-cache size in tokens (default max_position_embeddings, at most 4096)
   * @param ubatch most tokens one pass computes (a longer prompt runs in chunks; default 256)
   * @param cacheDtype the KV cache's dtype: 'f32' (default) or 'bf16' (Uint16Array bits)
   */
  constructor({ config, tensors }, { ctx, ubatch = 256, cacheDtype = 'f32' } = {}) {
    if (cacheDtype !== 'f32' && cacheDtype !== 'bf16') throw new Error(`the cache dtype must be 'f32' or 'bf16', got '${cacheDtype}'`);
    this.cacheDtype = cacheDtype;
    const c = config;
    this.config = c;
    this.hidden = c.hidden_size;
    this.heads = c.num_attention_heads;
    this.kvHeads = c.num_key_value_heads ?? c.num_attention_heads;
    this.headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
    this.inter = c.intermediate_size;
    this.vocab = c.vocab_size;
    this.eps = c.rms_norm_eps;
    this.ctx = ctx ?? Math.min(c.max_position_embeddings ?? 4096, 4096);
    this.ubatch = Math.min(ubatch, this.ctx);
    this.qDim = this.heads * this.headDim;
    this.kvDim = this.kvHeads * this.headDim;
    this.qkvDim = this.qDim + 2 * this.kvDim; // one token's row of the fused projection: q | k | v
    if (this.heads % this.kvHeads !== 0) throw new Error(`num_attention_heads ${this.heads} is not a multiple of num_key_value_heads ${this.kvHeads}`);

    // RoPE exactly as transformers reads this config.json (rope_theta, head_dim, rope_scaling).
    this.rope = Rope.fromConfig(c);
    this.ropeType = (c.rope_parameters ?? c.rope_scaling)?.rope_type ?? 'default';

    const H = this.hidden, I = this.inter, L = c.num_hidden_layers;
    const p = (name, ...shape) => weight(tensors, name, ...shape);
    this.embed = p('model.embed_tokens.weight', this.vocab, H);
    // Qwen2 and small Llamas tie the output projection to the embeddings (no lm_head.weight saved).
    this.lmHead = tensors.has('lm_head.weight') ? p('lm_head.weight', this.vocab, H) : this.embed;
    this.finalNorm = p('model.norm.weight', H);
    this.layers = [];
    for (let l = 0; l < L; l++) {
      const pre = `model.layers.${l}.`;
      const opt = (name, n) => (tensors.has(pre + name) ? p(pre + name, n) : null);
      // Fuse q_proj, k_proj, v_proj into one [qkvDim, H] matrix (and bias), as engines do.
      const wqkv = new Float32Array(this.qkvDim * H);
      wqkv.set(p(pre + 'self_attn.q_proj.weight', this.qDim, H), 0);
      wqkv.set(p(pre + 'self_attn.k_proj.weight', this.kvDim, H), this.qDim * H);
      wqkv.set(p(pre + 'self_attn.v_proj.weight', this.kvDim, H), (this.qDim + this.kvDim) * H);
      const bq = opt('self_attn.q_proj.bias', this.qDim); // Qwen2: always; Llama: attention_bias
      let bqkv = null;
      if (bq) {
        bqkv = new Float32Array(this.qkvDim);
        bqkv.set(bq, 0);
        bqkv.set(p(pre + 'self_attn.k_proj.bias', this.kvDim), this.qDim);
        bqkv.set(p(pre + 'self_attn.v_proj.bias', this.kvDim), this.qDim + this.kvDim);
      }
      // Sliding-window attention: Mistral's sliding_window, or per layer in layer_types (Qwen2/3).
      const sliding = c.layer_types ? c.layer_types[l] === 'sliding_attention' : c.use_sliding_window !== false;
      this.layers.push({
        inputNorm: p(pre + 'input_layernorm.weight', H),
        postNorm: p(pre + 'post_attention_layernorm.weight', H),
        wqkv,
        bqkv,
        qNorm: opt('self_attn.q_norm.weight', this.headDim), // Qwen3: RMSNorm per head, before RoPE
        kNorm: opt('self_attn.k_norm.weight', this.headDim),
        wo: p(pre + 'self_attn.o_proj.weight', H, this.qDim),
        bo: opt('self_attn.o_proj.bias', H),
        gate: p(pre + 'mlp.gate_proj.weight', I, H),
        up: p(pre + 'mlp.up_proj.weight', I, H),
        down: p(pre + 'mlp.down_proj.weight', H, I),
        window: sliding && c.sliding_window ? c.sliding_window : 0,
        // The KV cache: [ctx, kvHeads, headDim] per layer, allocated once (bf16: Uint16Array bits).
        k: cacheDtype === 'f32' ? new Float32Array(this.ctx * this.kvDim) : new Uint16Array(this.ctx * this.kvDim),
        v: cacheDtype === 'f32' ? new Float32Array(this.ctx * this.kvDim) : new Uint16Array(this.ctx * this.kvDim),
      });
    }

    // Work buffers for up to ubatch tokens at once, allocated once.
    const T = this.ubatch;
    this.x = new Float32Array(T * H); // residual stream
    this.xn = new Float32Array(T * H); // normed input of a block
    this.qkv = new Float32Array(T * this.qkvDim);
    this.attn = new Float32Array(T * this.qDim);
    this.g = new Float32Array(T * I);
    this.u = new Float32Array(T * I);
    this.scores = new Float64Array(this.ctx);
    // bf16 cache: the rows attention reads, widened to f32 once per layer and pass
    if (cacheDtype === 'bf16') {
      this.kWide = new Float32Array(this.ctx * this.kvDim);
      this.vWide = new Float32Array(this.ctx * this.kvDim);
    }
    this.logits = new Float32Array(this.vocab);
    this.shiftPositions = new Int32Array(this.ctx);
    this.nPast = 0; // tokens in the cache; the next token's position
    this.ropeMs = 0; // time spent in rope-simd calls (for --profile)
  }

  /** Runs `tokens` at positions nPast.. (in chunks of ubatch) and returns the logits after the last one. */
  forward(tokens) {
    if (tokens.length === 0) throw new Error('forward needs at least one token');
    if (this.nPast + tokens.length > this.ctx) throw new Error(`${this.nPast} cached + ${tokens.length} new tokens exceed the context of ${this.ctx}`);
    // (checked before any pass, so a refused call leaves the cache as it was)
    const bad = tokens.find((id) => !(Number.isInteger(id) && id >= 0 && id < this.vocab));
    if (bad !== undefined) throw new Error(`token id ${bad} is outside the vocabulary [0, ${this.vocab})`);
    for (let i = 0; i < tokens.length; i += this.ubatch) this.pass(tokens.slice(i, i + this.ubatch));
    const { hidden: H } = this;
    const last = this.x.subarray((this.lastN - 1) * H, this.lastN * H);
    rmsNorm(this.xn, last, 1, H, H, this.finalNorm, this.eps);
    linear(this.logits, this.vocab, this.xn, 1, this.lmHead, null, this.vocab, H);
    return this.logits;
  }

  /** One pass of n <= ubatch tokens through every layer; leaves their hidden states in this.x. */
  pass(tokens) {
    const n = tokens.length;
    const { hidden: H, inter: I, qDim, kvDim, qkvDim, headDim, nPast } = this;
    for (let t = 0; t < n; t++) this.x.set(this.embed.subarray(tokens[t] * H, (tokens[t] + 1) * H), t * H);
    for (const layer of this.layers) {
      rmsNorm(this.xn, this.x, n, H, H, layer.inputNorm, this.eps);
      linear(this.qkv, qkvDim, this.xn, n, layer.wqkv, layer.bqkv, qkvDim, H);
      if (layer.qNorm) {
        // Qwen3: per-head RMSNorm of q and k, in place in the fused buffer.
        for (let t = 0; t < n; t++) {
          const row = this.qkv.subarray(t * qkvDim);
          rmsNorm(row, row, this.heads, headDim, headDim, layer.qNorm, this.eps);
          const kRow = row.subarray(qDim);
          rmsNorm(kRow, kRow, this.kvHeads, headDim, headDim, layer.kNorm, this.eps);
        }
      }
      // RoPE: q is qkv[t*qkvDim ..], k qkv[t*qkvDim + qDim ..], v after k; all step qkvDim per token.
      // q is rotated in place; the rotated k and v go to cache slots nPast.. in the cache's dtype,
      // rounded once (k and v in qkv stay as they are).
      const t0 = performance.now();
      this.rope.applyQK(this.qkv, this.qkv.subarray(qDim), {
        qHeads: this.heads,
        kHeads: this.kvHeads,
        tokens: n,
        tokenStride: qkvDim,
        positions: nPast,
        v: this.qkv.subarray(qDim + kvDim),
        cache: { k: layer.k, v: layer.v, slots: nPast, dtype: this.cacheDtype },
      });
      this.ropeMs += performance.now() - t0;
      this.attention(layer, n);
      // o_proj, residual
      linear(this.xn, H, this.attn, n, layer.wo, layer.bo, H, qDim);
      for (let i = 0; i < n * H; i++) this.x[i] += this.xn[i];
      // SwiGLU MLP: down(silu(gate(x)) * up(x)), residual
      rmsNorm(this.xn, this.x, n, H, H, layer.postNorm, this.eps);
      linear(this.g, I, this.xn, n, layer.gate, null, I, H);
      linear(this.u, I, this.xn, n, layer.up, null, I, H);
      for (let i = 0; i < n * I; i++) this.g[i] = (this.g[i] / (1 + Math.exp(-this.g[i]))) * this.u[i];
      linear(this.xn, H, this.g, n, layer.down, null, H, I);
      for (let i = 0; i < n * H; i++) this.x[i] += this.xn[i];
    }
    this.nPast += n;
    this.lastN = n;
  }

  /** Causal grouped-query attention of the n new tokens over the cache, into this.attn. */
  attention(layer, n) {
    const { qDim, kvDim, qkvDim, headDim, nPast, scores } = this;
    const group = this.heads / this.kvHeads; // query heads sharing one key/value head
    const scale = 1 / Math.sqrt(headDim);
    const K = this.cacheDtype === 'bf16' ? widen(layer.k, this.kWide, (nPast + n) * kvDim) : layer.k;
    const V = this.cacheDtype === 'bf16' ? widen(layer.v, this.vWide, (nPast + n) * kvDim) : layer.v;
    for (let t = 0; t < n; t++) {
      const pos = nPast + t;
      const first = layer.window ? Math.max(0, pos - layer.window + 1) : 0;
      for (let h = 0; h < this.heads; h++) {
        const q = t * qkvDim + h * headDim;
        const kv = Math.floor(h / group) * headDim;
        let max = -Infinity;
        for (let s = first; s <= pos; s++) {
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += this.qkv[q + d] * K[s * kvDim + kv + d];
          scores[s] = dot * scale;
          if (scores[s] > max) max = scores[s];
        }
        let sum = 0;
        for (let s = first; s <= pos; s++) sum += scores[s] = Math.exp(scores[s] - max);
        const out = t * qDim + h * headDim;
        for (let d = 0; d < headDim; d++) {
          let acc = 0;
          for (let s = first; s <= pos; s++) acc += scores[s] * V[s * kvDim + kv + d];
          this.attn[out + d] = acc / sum;
        }
      }
    }
  }

  /**
   * Context shift (llama.cpp's n_keep / n_discard and K-shift): drops cached tokens
   * [nKeep, nKeep + nDiscard), moves the rest down, and rotates the moved keys by -nDiscard so
   * they carry their new positions. A rotation by -s is the inverse rotation at position s; the
   * composition is exact only for angles linear in the position and unscaled cos/sin.
   */
  shift(nKeep, nDiscard) {
    if (!(nDiscard > 0 && nKeep >= 0 && nKeep + nDiscard <= this.nPast)) {
      throw new Error(`cannot discard ${nDiscard} tokens after ${nKeep} kept from ${this.nPast} cached`);
    }
    if (this.rope.attentionScaling !== 1 || ['dynamic', 'longrope', 'su'].includes(this.ropeType)) {
      throw new Error(`K-shift needs rotations that compose (rope_type ${this.ropeType}, attention scaling ${this.rope.attentionScaling}); recompute instead`);
    }
    const { kvDim } = this;
    const moved = this.nPast - nKeep - nDiscard;
    const positions = this.shiftPositions.subarray(0, moved).fill(nDiscard);
    for (const layer of this.layers) {
      for (const c of [layer.k, layer.v]) c.copyWithin(nKeep * kvDim, (nKeep + nDiscard) * kvDim, this.nPast * kvDim);
      if (moved === 0) continue;
      const t0 = performance.now();
      this.rope.apply(layer.k.subarray(nKeep * kvDim, (nKeep + moved) * kvDim), { heads: this.kvHeads, positions, inverse: true, dtype: this.cacheDtype });
      this.ropeMs += performance.now() - t0;
    }
    this.nPast -= nDiscard;
  }
}

/** The first n bf16 values of bits as f32 in out (a bf16 is the top half of an f32). */
function widen(bits, out, n) {
  const u = new Uint32Array(out.buffer, out.byteOffset, n);
  for (let i = 0; i < n; i++) u[i] = bits[i] << 16;
  return out;
}

/**
 * Greedy decoding: the prompt in one forward pass, then one token at a time. With a cache smaller
 * than the run, a full cache keeps the first nKeep tokens and drops half of the rest (llama.cpp's
 * default n_discard). Returns the new tokens and each step's logits (copies).
 */
export function generate(decoder, prompt, newTokens, { nKeep = 0, onStep } = {}) {
  if (prompt.length === 0) throw new Error('the prompt needs at least one token');
  if (prompt.length > decoder.ctx) throw new Error(`the prompt's ${prompt.length} tokens do not fit the context of ${decoder.ctx}`);
  const tokens = [];
  const logits = [];
  let next = prompt;
  for (let i = 0; i < newTokens; i++) {
    if (decoder.nPast + next.length > decoder.ctx) {
      const keep = Math.min(nKeep, decoder.nPast - 1);
      decoder.shift(keep, Math.max(1, Math.floor((decoder.nPast - keep) / 2)));
    }
    const row = decoder.forward(next);
    let best = 0;
    for (let v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
    tokens.push(best);
    logits.push(Float32Array.from(row));
    onStep?.(i);
    next = [best];
  }
  return { tokens, logits };
}
