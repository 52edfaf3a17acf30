#!/usr/bin/env python3
"""Writes tiny GGUF files (metadata + the rope tensors, no weights) with llama.cpp's own writer,
the `gguf` Python package, into test/fixtures/gguf/. test/models/gguf-file.test.ts reads them back with
@huggingface/gguf. Keys are the ones convert_hf_to_gguf.py writes for each architecture.

    python3 scripts/gen/gen-gguf-fixtures.py
"""
import math
import os

import numpy as np
import gguf

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'gguf')


def write(name, arch, build, tensors=()):
    path = os.path.join(OUT, name)
    w = gguf.GGUFWriter(path, arch)
    w.add_name(name)
    build(w)
    for tname, data in tensors:
        w.add_tensor(tname, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llama3_rope_freqs(base, dim, factor, low, high, orig):
    # convert_hf_to_gguf.py LlamaModel.generate_extra_tensors (Llama 3.1 rope_freqs), float32.
    freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
    low_wavelen, high_wavelen = orig / low, orig / high
    out = []
    for f in freqs:
        wavelen = 2 * math.pi / f
        if wavelen < high_wavelen:
            out.append(1)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (orig / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def common(w, blocks, heads, head_dim, base, ctx):
    w.add_block_count(blocks)
    w.add_context_length(ctx)
    w.add_embedding_length(heads * head_dim)
    w.add_head_count(heads)
    w.add_head_count_kv(max(1, heads // 2))
    w.add_rope_freq_base(base)


def main():
    os.makedirs(OUT, exist_ok=True)

    # Llama 3.1: NORM pairs, llama3 scaling kept in the rope_freqs tensor.
    def llama(w):
        common(w, 4, 4, 64, 500000.0, 131072)
        w.add_rope_dimension_count(64)
    write('llama.gguf', 'llama', llama, [('rope_freqs.weight', llama3_rope_freqs(500000.0, 64, 8.0, 1.0, 4.0, 8192))])

    # Qwen2 with YaRN: NEOX pairs.
    def qwen2(w):
        common(w, 2, 4, 64, 1000000.0, 131072)
        w.add_key_length(64)
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(4.0)
        w.add_rope_scaling_orig_ctx_len(32768)
    write('qwen2.gguf', 'qwen2', qwen2)

    # Gemma 3: 5 sliding layers then 1 full; sliding layers use rope.freq_base_swa and no scaling.
    def gemma3(w):
        common(w, 12, 4, 64, 1000000.0, 131072)
        w.add_key_length(64)
        w.add_sliding_window(512)
        w.add_sliding_window_pattern(6)
        w.add_rope_freq_base_swa(10000.0)
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(8.0)
    write('gemma3.gguf', 'gemma3', gemma3)

    # Gemma 4: per-layer bool pattern; sliding layers have their own head size and rotary dims.
    def gemma4(w):
        common(w, 6, 4, 128, 1000000.0, 131072)
        w.add_key_length(128)
        w.add_key_length_swa(64)
        w.add_value_length_swa(64)
        w.add_rope_dimension_count(128)
        w.add_rope_dimension_count_swa(64)
        w.add_sliding_window(512)
        w.add_sliding_window_pattern([True, True, False, True, True, False])
        w.add_rope_freq_base_swa(10000.0)
    write('gemma4.gguf', 'gemma4', gemma4)

    # Llama 4 (no sliding_window key): chunked layers 3 of 4, NoPE on every 4th layer.
    def llama4(w):
        common(w, 8, 4, 64, 500000.0, 262144)
        w.add_rope_dimension_count(64)
    write('llama4.gguf', 'llama4', llama4)

    # Qwen3-VL: interleaved M-RoPE (IMROPE), sections padded to 4 as convert_hf_to_gguf writes them.
    def qwen3vl(w):
        common(w, 2, 2, 128, 5000000.0, 262144)
        w.add_key_length(128)
        w.add_rope_dimension_count(128)
        w.add_rope_dimension_sections([24, 20, 20, 0])
    write('qwen3vl.gguf', 'qwen3vl', qwen3vl)

    # Qwen3.5 hybrid: linear-attention layers except every full_attention_interval-th.
    def qwen35(w):
        common(w, 8, 4, 256, 10000000.0, 262144)
        w.add_key_length(256)
        w.add_rope_dimension_count(64)  # partial_rotary_factor 0.25
        w.add_rope_dimension_sections([11, 11, 10, 0])
        w.add_full_attention_interval(4)
    write('qwen35.gguf', 'qwen35', qwen35)

    # GPT-2: llama.cpp applies no RoPE.
    def gpt2(w):
        w.add_block_count(2)
        w.add_context_length(1024)
        w.add_embedding_length(128)
        w.add_head_count(2)
    write('gpt2.gguf', 'gpt2', gpt2)


if __name__ == '__main__':
    main()
