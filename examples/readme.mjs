import { Rope, backendInfo } from 'rope-simd';      // or: const { Rope } = require('rope-simd')

console.log(backendInfo); // { backend: 'native', isa: 'avx512' } on an AVX-512 machine

// Llama 3 8B attention: 32 query heads, 8 key/value heads, headDim 128, rope_theta 500000.
const rope = new Rope({ headDim: 128, base: 500000, style: 'half' });

// Prefill: 16 tokens at positions 0..15, q and k in [tokens, heads, headDim] layout.
const tokens = 16;
const q = new Float32Array(tokens * 32 * 128).map(() => Math.random() * 2 - 1);
const k = new Float32Array(tokens * 8 * 128).map(() => Math.random() * 2 - 1);
rope.applyQK(q, k, { qHeads: 32, kHeads: 8, positions: 0 }); // in place

// Decode: one token at position 16 (the KV-cache offset), key only, bf16 bits in a Uint16Array.
const kBf16 = new Uint16Array(8 * 128).fill(0x3f80); // bf16 1.0
rope.apply(kBf16, { heads: 8, positions: 16, dtype: 'bf16' });

// A decode loop: options checked once, then each call costs about one bare native call
// (here the same first token four times, for brevity; a real loop passes each new token's q and k).
const step = rope.prepare({ qHeads: 32, kHeads: 8 });
const q1 = q.subarray(0, 32 * 128), k1 = k.subarray(0, 8 * 128);
for (let position = 16; position < 20; position++) step.applyQK(q1, k1, position);

// Per-token positions, and the inverse rotation that undoes it.
const x = new Float32Array(3 * 8 * 128).fill(0.5);
const positions = Int32Array.from([7, 3, 9]);
rope.apply(x, { heads: 8, positions });
rope.apply(x, { heads: 8, positions, inverse: true });
console.log(Math.max(...x.map((v) => Math.abs(v - 0.5)))); // ~6e-8: back to the input

// The frequencies and Hugging Face's cos/sin tables.
console.log(rope.invFreq.length, rope.attentionScaling); // 64 1
const { cos, sin } = rope.cosSin(Int32Array.from([0, 1, 2]));
console.log(cos.length, sin[128 + 1]); // 384 = 3*128, sin(1 * invFreq[1])

// From a Hugging Face config.json (here Llama 3.1's rope_scaling), off the event loop.
const llama31 = Rope.fromConfig({
  model_type: 'llama', hidden_size: 4096, num_attention_heads: 32, rope_theta: 500000, max_position_embeddings: 131072,
  rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4,
                  original_max_position_embeddings: 8192 },
});
await llama31.applyQKAsync(q, k, { qHeads: 32, kHeads: 8, positions: 20000 });

// Models whose layers rotate differently (Gemma 3: local layers at base 10000, global ones at 1e6,
// 5 local : 1 global): one Rope per layer, shared where the settings are the same.
const layers = Rope.layersFromConfig({
  model_type: 'gemma3_text', num_hidden_layers: 6, head_dim: 256, num_attention_heads: 8,
  rope_theta: 1000000, rope_local_base_freq: 10000, sliding_window_pattern: 6,
});
console.log(layers.map((r) => r.base)); // [10000, 10000, 10000, 10000, 10000, 1000000]

