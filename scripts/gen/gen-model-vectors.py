#!/usr/bin/env python3
"""Writes test/fixtures/models/<case>.json: for each model family, what transformers' own code does.

For every case: the config is built with the family's own config class (AutoConfig.for_model) from
published config.json values (each case names its source); the family's own rotary embedding module
produces cos/sin and the family's own apply function rotates q. Run twice:
  - float64: torch.float/float32 and Tensor.float() are redirected to float64 while transformers'
    code runs, so the same code computes inv_freq, angles, cos/sin and the rotation in float64;
  - float32: unpatched, what transformers computes in practice (kept only as max_abs_diff_f32).
Inputs are not stored: q[t, h, d] (layout [tokens, heads, rotHeadDim]) comes from element index i
and the case's seed s: u = (i * 2654435761 + s * 40503) mod 2^32, x = float32(u / 2^32 * 2 - 1),
as in test/fixtures/README.md. The output (float64 rounded to float32 once) is stored as base64.
For layered families the per-layer truth comes from the family's own attention modules (built on
the meta device): which layer type each layer's attention takes its cos/sin from, or null where the
layer applies no rotation (NoPE, rope only on sliding layers, or no attention), plus the float64
inv_freq and attention scaling of each layer type.
Also stored: `config_saved`, the config as transformers 5 saves it (config.to_dict()).
Usage: python3 scripts/gen/gen-model-vectors.py [case ...]"""
import base64, contextlib, copy, importlib, inspect, json, math, os, re, sys

import numpy as np
import torch
import transformers
from transformers import AutoConfig
from transformers.models.auto.configuration_auto import model_type_to_module_name

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'models')
COVERAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'models-not-driven.json')
NOT_DRIVEN = {}
# GPT-J and CodeGen: a sin/cos table (create_sinusoidal_positions) instead of a rotary module
SINUSOIDAL = ('gptj', 'codegen')
CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'configs')


def load_config(name):
    with open(os.path.join(CONFIGS, name)) as f:
        c = json.load(f)
    src = c.pop('_source', None)
    return c, src


PUB = 'published config.json of {} on the Hugging Face Hub, from memory (no network here); RoPE keys only'

# (case, model_type, source, config, positions). Positions past the original context where the
# family extends it; heads 2; tokens = len(positions).
def cases():
    out = []

    def add(case, source, config, positions):
        out.append((case, source, config, positions))

    add('llama-2-7b', PUB.format('meta-llama/Llama-2-7b-hf'),
        dict(model_type='llama', hidden_size=4096, num_attention_heads=32, num_key_value_heads=32,
             max_position_embeddings=4096, rope_theta=10000.0, num_hidden_layers=32), [0, 1, 5, 4095])
    c, s = load_config('llama-3.1-8b.json')
    add('llama-3.1-8b', s, c, [0, 3, 8191, 8192, 100000, 131071])
    add('llama4-scout', PUB.format('meta-llama/Llama-4-Scout-17B-16E-Instruct (text_config)'),
        dict(model_type='llama4', text_config=dict(
            hidden_size=5120, num_attention_heads=40, num_key_value_heads=8, head_dim=128,
            max_position_embeddings=10485760, rope_theta=500000.0, num_hidden_layers=48,
            rope_scaling=dict(rope_type='llama3', factor=16.0, low_freq_factor=1.0, high_freq_factor=1.0,
                              original_max_position_embeddings=8192),
            no_rope_layers=[], interleave_moe_layer_step=1, attention_chunk_size=8192, use_qk_norm=True)),
        [0, 7, 8191, 8192, 1000000, 10485759])
    c, s = load_config('mistral-7b-v0.1.json')
    add('mistral-7b', s, c, [0, 2, 4095, 32767])
    add('mixtral-8x7b', PUB.format('mistralai/Mixtral-8x7B-v0.1'),
        dict(model_type='mixtral', hidden_size=4096, num_attention_heads=32, num_key_value_heads=8,
             max_position_embeddings=32768, rope_theta=1000000.0, num_hidden_layers=32), [0, 1, 30000])
    c, s = load_config('qwen2.5-7b.json')
    add('qwen2.5-7b', s, c, [0, 9, 32767])
    add('qwen2-moe', PUB.format('Qwen/Qwen1.5-MoE-A2.7B'),
        dict(model_type='qwen2_moe', hidden_size=2048, num_attention_heads=16, num_key_value_heads=16,
             max_position_embeddings=8192, rope_theta=1000000.0, num_hidden_layers=24), [0, 4, 8191])
    add('qwen3-8b-yarn', PUB.format('Qwen/Qwen3-8B') + ' plus the rope_scaling its model card gives for 131072 tokens',
        dict(model_type='qwen3', hidden_size=4096, num_attention_heads=32, num_key_value_heads=8, head_dim=128,
             max_position_embeddings=40960, rope_theta=1000000.0, num_hidden_layers=36,
             rope_scaling=dict(rope_type='yarn', factor=4.0, original_max_position_embeddings=32768)),
        [0, 5, 32768, 131071])
    add('qwen3-moe', PUB.format('Qwen/Qwen3-30B-A3B'),
        dict(model_type='qwen3_moe', hidden_size=2048, num_attention_heads=32, num_key_value_heads=4, head_dim=128,
             max_position_embeddings=40960, rope_theta=1000000.0, num_hidden_layers=48), [0, 3, 40959])
    add('qwen3-next', PUB.format('Qwen/Qwen3-Next-80B-A3B-Instruct'),
        dict(model_type='qwen3_next', hidden_size=2048, num_attention_heads=16, num_key_value_heads=2, head_dim=256,
             partial_rotary_factor=0.25, max_position_embeddings=262144, rope_theta=10000000.0,
             num_hidden_layers=48, full_attention_interval=4), [0, 1, 262143])
    c, s = load_config('qwen2-vl-7b-instruct.json')
    add('qwen2-vl-7b', s, c, [[0, 1, 2, 3, 4, 5], [0, 1, 1, 2, 9, 5], [0, 2, 1, 3, 7, 5]])
    add('qwen2.5-vl-7b', PUB.format('Qwen/Qwen2.5-VL-7B-Instruct'),
        dict(model_type='qwen2_5_vl', hidden_size=3584, num_attention_heads=28, num_key_value_heads=4,
             max_position_embeddings=128000, rope_theta=1000000.0, num_hidden_layers=28,
             rope_scaling=dict(type='mrope', mrope_section=[16, 24, 24])),
        [[0, 1, 2, 3, 4, 5], [0, 1, 1, 2, 9, 5], [0, 2, 1, 3, 7, 5]])
    add('qwen3-vl-8b', PUB.format('Qwen/Qwen3-VL-8B-Instruct (text_config)'),
        dict(model_type='qwen3_vl', text_config=dict(
            hidden_size=4096, num_attention_heads=32, num_key_value_heads=8, head_dim=128,
            max_position_embeddings=262144, rope_theta=5000000.0, num_hidden_layers=36,
            rope_scaling=dict(rope_type='default', mrope_section=[24, 20, 20], mrope_interleaved=True))),
        [[0, 1, 2, 3, 4, 5], [0, 1, 1, 2, 9, 5], [0, 2, 1, 3, 7, 5]])
    add('phi-2', PUB.format('microsoft/phi-2'),
        dict(model_type='phi', hidden_size=2560, num_attention_heads=32, partial_rotary_factor=0.4,
             max_position_embeddings=2048, rope_theta=10000.0, num_hidden_layers=32), [0, 6, 2047])
    c, s = load_config('phi-3-mini-128k-instruct.json')
    # transformers 5.18 refuses the April 'su' spelling (KeyError: original_max_position_embeddings,
    # its standardize step copies it only for 'longrope'); the June release says 'longrope'.
    c['rope_scaling']['type'] = 'longrope'
    s += " rope_scaling.type set to 'longrope' (the June 2024 spelling; transformers 5.18 refuses 'su' here)."
    add('phi-3-mini-128k-short', s, c, [0, 1, 4095])
    add('phi-3-mini-128k-long', s, c, [0, 1, 4096, 131071])
    phimoe_factors = [1.0 + 0.5 * j for j in range(64)]
    add('phimoe-long', PUB.format('microsoft/Phi-3.5-MoE-instruct') +
        '; short/long_mscale as published, short_factor/long_factor replaced by a ramp (not remembered)',
        dict(model_type='phimoe', hidden_size=4096, num_attention_heads=32, num_key_value_heads=8,
             max_position_embeddings=131072, original_max_position_embeddings=4096, rope_theta=10000.0,
             num_hidden_layers=32, sliding_window=131072,
             rope_scaling=dict(type='longrope', short_factor=phimoe_factors[::-1], long_factor=phimoe_factors,
                               short_mscale=1.243163121016122, long_mscale=1.243163121016122,
                               original_max_position_embeddings=4096)),
        [0, 2, 4096, 131071])
    c, s = load_config('gpt-neox-20b.json')
    add('gpt-neox-20b', s, c, [0, 3, 2047])
    c, s = load_config('pythia-160m.json')
    add('pythia-160m', s, c, [0, 3, 2047])
    c, s = load_config('gpt-j-6b.json')
    add('gpt-j-6b', s, c, [0, 3, 2047])
    add('falcon-7b', PUB.format('tiiuae/falcon-7b'),
        dict(model_type='falcon', hidden_size=4544, num_attention_heads=71, max_position_embeddings=2048,
             rope_theta=10000.0, alibi=False, new_decoder_architecture=False, multi_query=True,
             num_hidden_layers=32), [0, 3, 2047])
    add('stablelm-3b', PUB.format('stabilityai/stablelm-3b-4e1t'),
        dict(model_type='stablelm', hidden_size=2560, num_attention_heads=32, num_key_value_heads=32,
             partial_rotary_factor=0.25, max_position_embeddings=4096, rope_theta=10000.0,
             num_hidden_layers=32), [0, 3, 4095])
    add('persimmon-8b', PUB.format('adept/persimmon-8b-base'),
        dict(model_type='persimmon', hidden_size=4096, num_attention_heads=64, partial_rotary_factor=0.5,
             max_position_embeddings=16384, rope_theta=25000.0, num_hidden_layers=36), [0, 3, 16383])
    add('gemma-7b', PUB.format('google/gemma-7b'),
        dict(model_type='gemma', hidden_size=3072, num_attention_heads=16, num_key_value_heads=16, head_dim=256,
             max_position_embeddings=8192, rope_theta=10000.0, num_hidden_layers=28), [0, 3, 8191])
    add('gemma2-9b', PUB.format('google/gemma-2-9b'),
        dict(model_type='gemma2', hidden_size=3584, num_attention_heads=16, num_key_value_heads=8, head_dim=256,
             max_position_embeddings=8192, rope_theta=10000.0, num_hidden_layers=42, sliding_window=4096),
        [0, 3, 8191])
    add('gemma3-27b', PUB.format('google/gemma-3-27b-it (text_config)'),
        dict(model_type='gemma3', text_config=dict(
            model_type='gemma3_text', hidden_size=5376, num_attention_heads=32, num_key_value_heads=16,
            head_dim=128, max_position_embeddings=131072, rope_theta=1000000.0, rope_local_base_freq=10000.0,
            rope_scaling=dict(rope_type='linear', factor=8.0), num_hidden_layers=62, sliding_window=1024,
            sliding_window_pattern=6)),
        [0, 3, 32768, 131071])
    add('gemma3-1b', PUB.format('google/gemma-3-1b-it'),
        dict(model_type='gemma3_text', hidden_size=1152, num_attention_heads=4, num_key_value_heads=1,
             head_dim=256, max_position_embeddings=32768, rope_theta=1000000.0, rope_local_base_freq=10000.0,
             num_hidden_layers=26, sliding_window=512, sliding_window_pattern=6), [0, 3, 32767])
    add('gemma3n-e4b', PUB.format('google/gemma-3n-E4B-it (text_config)') + '; layer_types from the config class defaults',
        dict(model_type='gemma3n_text', hidden_size=2048, num_attention_heads=8, num_key_value_heads=2,
             head_dim=256, max_position_embeddings=32768, rope_theta=1000000.0, rope_local_base_freq=10000.0,
             num_hidden_layers=35, sliding_window=512), [0, 3, 32767])
    add('command-r', PUB.format('CohereForAI/c4ai-command-r-v01'),
        dict(model_type='cohere', hidden_size=8192, num_attention_heads=64, num_key_value_heads=64,
             max_position_embeddings=8192, rope_theta=8000000.0, num_hidden_layers=40), [0, 3, 8191])
    add('command-r7b', PUB.format('CohereForAI/c4ai-command-r7b-12-2024'),
        dict(model_type='cohere2', hidden_size=4096, num_attention_heads=32, num_key_value_heads=8,
             max_position_embeddings=8192, rope_theta=50000.0, num_hidden_layers=32, sliding_window=4096,
             sliding_window_pattern=4), [0, 3, 8191])
    add('glm-4-9b-chat-hf', PUB.format('THUDM/glm-4-9b-chat-hf'),
        dict(model_type='glm', hidden_size=4096, num_attention_heads=32, num_key_value_heads=2, head_dim=128,
             partial_rotary_factor=0.5, max_position_embeddings=131072, rope_theta=10000.0,
             num_hidden_layers=40), [0, 3, 131071])
    add('glm-4-9b-0414', PUB.format('THUDM/GLM-4-9B-0414'),
        dict(model_type='glm4', hidden_size=4096, num_attention_heads=32, num_key_value_heads=2, head_dim=128,
             partial_rotary_factor=0.5, max_position_embeddings=32768, rope_theta=10000.0,
             num_hidden_layers=40), [0, 3, 32767])
    add('glm-4.5-air', PUB.format('zai-org/GLM-4.5-Air'),
        dict(model_type='glm4_moe', hidden_size=4096, num_attention_heads=96, num_key_value_heads=8, head_dim=128,
             partial_rotary_factor=0.5, max_position_embeddings=131072, rope_theta=1000000.0,
             num_hidden_layers=46), [0, 3, 131071])
    add('ernie-4.5-0.3b', PUB.format('baidu/ERNIE-4.5-0.3B-PT'),
        dict(model_type='ernie4_5', hidden_size=1024, num_attention_heads=16, num_key_value_heads=2, head_dim=128,
             max_position_embeddings=131072, rope_theta=500000.0, num_hidden_layers=18), [0, 3, 131071])
    add('ernie-4.5-21b-a3b', PUB.format('baidu/ERNIE-4.5-21B-A3B-PT'),
        dict(model_type='ernie4_5_moe', hidden_size=2560, num_attention_heads=20, num_key_value_heads=4,
             head_dim=128, max_position_embeddings=131072, rope_theta=500000.0, num_hidden_layers=28),
        [0, 3, 131071])
    c, s = load_config('deepseek-v2.json')
    add('deepseek-v2', s, c, [0, 3, 4096, 163839])
    c, s = load_config('deepseek-v3.json')
    add('deepseek-v3', s, c, [0, 3, 4096, 163839])
    add('minicpm3-4b', PUB.format('openbmb/MiniCPM3-4B') + '; its longrope factors left out (not remembered)',
        dict(model_type='minicpm3', hidden_size=2560, num_attention_heads=40, num_key_value_heads=40,
             qk_nope_head_dim=64, qk_rope_head_dim=32, kv_lora_rank=256, q_lora_rank=768, v_head_dim=64,
             max_position_embeddings=32768, rope_theta=10000.0, num_hidden_layers=62), [0, 3, 32767])
    add('olmo-7b', PUB.format('allenai/OLMo-7B-hf'),
        dict(model_type='olmo', hidden_size=4096, num_attention_heads=32, max_position_embeddings=2048,
             rope_theta=10000.0, num_hidden_layers=32), [0, 3, 2047])
    add('olmo2-7b', PUB.format('allenai/OLMo-2-1124-7B'),
        dict(model_type='olmo2', hidden_size=4096, num_attention_heads=32, max_position_embeddings=4096,
             rope_theta=500000.0, num_hidden_layers=32), [0, 3, 4095])
    add('granite-3.0-8b', PUB.format('ibm-granite/granite-3.0-8b-base'),
        dict(model_type='granite', hidden_size=4096, num_attention_heads=32, num_key_value_heads=8,
             max_position_embeddings=4096, rope_theta=10000.0, num_hidden_layers=40), [0, 3, 4095])
    add('granitemoe-3b', PUB.format('ibm-granite/granite-3.0-3b-a800m-base'),
        dict(model_type='granitemoe', hidden_size=1536, num_attention_heads=24, num_key_value_heads=8,
             max_position_embeddings=4096, rope_theta=10000.0, num_hidden_layers=32), [0, 3, 4095])
    add('exaone-4.0-32b', PUB.format('LGAI-EXAONE/EXAONE-4.0-32B') + "; its 'LLLG' pattern given as layer_types",
        dict(model_type='exaone4', hidden_size=5120, num_attention_heads=40, num_key_value_heads=8, head_dim=128,
             max_position_embeddings=131072, rope_theta=1000000.0, num_hidden_layers=64, sliding_window=4096,
             sliding_window_pattern=4,
             layer_types=['sliding_attention' if (i + 1) % 4 else 'full_attention' for i in range(64)],
             rope_scaling=dict(rope_type='llama3', factor=16.0, low_freq_factor=1.0, high_freq_factor=4.0,
                               original_max_position_embeddings=8192)), [0, 3, 8192, 131071])
    add('gpt-oss-20b', PUB.format('openai/gpt-oss-20b'),
        dict(model_type='gpt_oss', hidden_size=2880, num_attention_heads=64, num_key_value_heads=8, head_dim=64,
             max_position_embeddings=131072, rope_theta=150000.0, num_hidden_layers=24, sliding_window=128,
             rope_scaling=dict(rope_type='yarn', factor=32.0, beta_fast=32.0, beta_slow=1.0, truncate=False,
                               original_max_position_embeddings=4096)), [0, 3, 4096, 131071])
    add('starcoder2-7b', PUB.format('bigcode/starcoder2-7b'),
        dict(model_type='starcoder2', hidden_size=4608, num_attention_heads=36, num_key_value_heads=4,
             max_position_embeddings=16384, rope_theta=1000000.0, num_hidden_layers=32), [0, 3, 16383])
    add('nemotron-minitron-8b', PUB.format('nvidia/Minitron-8B-Base'),
        dict(model_type='nemotron', hidden_size=4096, num_attention_heads=48, num_key_value_heads=8, head_dim=128,
             partial_rotary_factor=0.5, max_position_embeddings=4096, rope_theta=10000.0,
             num_hidden_layers=32), [0, 3, 4095])
    add('smollm3-3b', PUB.format('HuggingFaceTB/SmolLM3-3B'),
        dict(model_type='smollm3', hidden_size=2048, num_attention_heads=16, num_key_value_heads=4,
             max_position_embeddings=65536, rope_theta=5000000.0, num_hidden_layers=36,
             no_rope_layer_interval=4), [0, 3, 65535])
    # Appended (seeds follow the list order, so earlier cases keep theirs).
    add('glm-4.1v-9b', PUB.format('THUDM/GLM-4.1V-9B-Thinking (text_config)') + ': M-RoPE on half the head',
        dict(model_type='glm4v', text_config=dict(
            model_type='glm4v_text', hidden_size=4096, num_attention_heads=32, num_key_value_heads=2,
            max_position_embeddings=65536, num_hidden_layers=40, partial_rotary_factor=0.5,
            rope_parameters=dict(rope_type='default', rope_theta=10000.0, mrope_section=[8, 12, 12],
                                 partial_rotary_factor=0.5))),
        [[0, 1, 2, 3, 4, 5], [0, 1, 1, 2, 9, 5], [0, 2, 1, 3, 7, 5]])
    add('olmo-hybrid-released', 'transformers ' + transformers.__version__ + ' OlmoHybridConfig() sizes with rope_theta null, '
        'as its released checkpoints have it (no RoPE)',
        dict(model_type='olmo_hybrid', num_hidden_layers=4, rope_parameters=dict(rope_type='default', rope_theta=None)),
        [0, 3, 4095])
    add('falcon-alibi', PUB.format('tiiuae/falcon-rw-1b') + ': ALiBi instead of RoPE',
        dict(model_type='falcon', hidden_size=2048, num_attention_heads=32, num_hidden_layers=24, alibi=True,
             multi_query=False, new_decoder_architecture=False, parallel_attn=False, bias=True, max_position_embeddings=2048),
        [0, 3, 2047])
    add('olmo-3-7b', PUB.format('allenai/Olmo-3-1025-7B') + ': a flat YaRN rope_scaling with sliding layers',
        dict(model_type='olmo3', hidden_size=4096, num_attention_heads=32, num_key_value_heads=32,
             num_hidden_layers=32, max_position_embeddings=65536, rope_theta=500000.0, sliding_window=4096,
             layer_types=['sliding_attention' if (i + 1) % 4 else 'full_attention' for i in range(32)],
             rope_scaling=dict(rope_type='yarn', factor=8.0, original_max_position_embeddings=8192,
                               attention_factor=1.2079441541679836, beta_fast=32.0, beta_slow=1.0)),
        [0, 3, 8192, 65535])
    add('modernbert-base', PUB.format('answerdotai/ModernBERT-base') + ' (an encoder: global/local thetas, every 3rd layer global)',
        dict(model_type='modernbert', hidden_size=768, num_attention_heads=12, num_hidden_layers=22,
             max_position_embeddings=8192, global_attn_every_n_layers=3, global_rope_theta=160000.0,
             local_rope_theta=10000.0, local_attention=128, vocab_size=50368), [0, 3, 8191])
    add('hunyuan-a13b', PUB.format('tencent/Hunyuan-A13B-Instruct') + ': its dynamic rope_scaling with alpha',
        dict(model_type='hunyuan_v1_moe', hidden_size=4096, num_attention_heads=32, num_key_value_heads=8,
             head_dim=128, max_position_embeddings=32768, rope_theta=10000.0, num_hidden_layers=32,
             rope_scaling=dict(type='dynamic', alpha=1000.0, factor=1.0, beta_fast=32, beta_slow=1, mscale=1.0,
                               mscale_all_dim=1.0)), [0, 3, 1000, 32767])
    add('esm2-8m', PUB.format('facebook/esm2_t6_8M_UR50D') + ' (a protein encoder with rotary positions)',
        dict(model_type='esm', hidden_size=320, num_attention_heads=20, num_hidden_layers=6, vocab_size=33,
             max_position_embeddings=1026, position_embedding_type='rotary'), [0, 3, 1025])
    add('granite-4.0-micro', 'transformers ' + transformers.__version__ + " GraniteMoeHybridConfig() default sizes with "
        "position_embedding_type 'rope' and a hybrid layer list",
        dict(model_type='granitemoehybrid', position_embedding_type='rope', num_hidden_layers=4, hidden_size=4096,
             num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=2048, rope_theta=10000.0,
             layer_types=['mamba', 'attention', 'mamba', 'attention']), [0, 3, 2047])
    add('qwen3-omni-30b-a3b', PUB.format('Qwen/Qwen3-Omni-30B-A3B-Instruct (thinker_config.text_config)'),
        dict(model_type='qwen3_omni_moe', thinker_config=dict(text_config=dict(
            hidden_size=2048, num_attention_heads=32, num_key_value_heads=4, head_dim=128, num_hidden_layers=48,
            max_position_embeddings=65536, rope_parameters=dict(rope_type='default', rope_theta=1000000.0,
                                                                mrope_section=[24, 20, 20], mrope_interleaved=True)))),
        [[0, 1, 2, 3, 4, 5], [0, 1, 1, 2, 9, 5], [0, 2, 1, 3, 7, 5]])
    return out


# Families the generic harness cannot yet drive faithfully: not written, listed in docs/maintainers/models-hf.md.
EXCLUDED = {
    'qwen2_5_omni_dit': "the talker's token-to-wave diffusion transformer (audio), not a text attention",
}


# Model types whose config class defaults build no model (Ministral: head_dim None; GLM-4.5V: an
# mrope_section for a head size it does not have): a published config in their place, same case name.
# (Qwen3-Omni's text class defaults give an odd head size, 2048 / 28.)
QWEN3_OMNI_TEXT = dict(model_type='qwen3_omni_moe_text', hidden_size=2048, num_attention_heads=32, num_key_value_heads=4,
                       head_dim=128, num_hidden_layers=48, max_position_embeddings=65536,
                       rope_parameters=dict(rope_type='default', rope_theta=1000000.0, mrope_section=[24, 20, 20],
                                            mrope_interleaved=True))
PUBLISHED_FOR_DEFAULTS = {
    'ministral': (PUB.format('mistralai/Ministral-8B-Instruct-2410'),
                  dict(model_type='ministral', hidden_size=4096, num_attention_heads=32, num_key_value_heads=8,
                       head_dim=128, max_position_embeddings=32768, rope_theta=100000000.0, num_hidden_layers=36,
                       sliding_window=32768)),
    'glm4v_moe': (PUB.format('zai-org/GLM-4.5V (text_config)'),
                  dict(model_type='glm4v_moe', text_config=dict(
                      model_type='glm4v_moe_text', hidden_size=4096, num_attention_heads=96, num_key_value_heads=8,
                      head_dim=128, partial_rotary_factor=0.5, max_position_embeddings=65536, num_hidden_layers=46,
                      rope_parameters=dict(rope_type='default', rope_theta=10000.0, mrope_section=[8, 12, 12],
                                           partial_rotary_factor=0.5)))),
    'glm4v_moe_text': (PUB.format('zai-org/GLM-4.5V (text_config)'),
                       dict(model_type='glm4v_moe_text', hidden_size=4096, num_attention_heads=96, num_key_value_heads=8,
                            head_dim=128, partial_rotary_factor=0.5, max_position_embeddings=65536, num_hidden_layers=46,
                            rope_parameters=dict(rope_type='default', rope_theta=10000.0, mrope_section=[8, 12, 12],
                                                 partial_rotary_factor=0.5))),
    'qwen3_omni_moe_text': (PUB.format('Qwen/Qwen3-Omni-30B-A3B-Instruct (thinker_config.text_config)'), QWEN3_OMNI_TEXT),
    'qwen3_omni_moe_thinker': (PUB.format('Qwen/Qwen3-Omni-30B-A3B-Instruct (thinker_config)'),
                               dict(model_type='qwen3_omni_moe_thinker',
                                    text_config={k: v for k, v in QWEN3_OMNI_TEXT.items() if k != 'model_type'})),
}


def default_cases(covered):
    """Every other model_type of the family table whose config class builds with its defaults and
    whose rotary module runs through the harness: the config class's own defaults are the values."""
    import re as _re
    table = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'lib', 'generated', 'hf-families.ts')).read()
    types = _re.findall(r"^  '([^']+)': \{", table, _re.M)
    out = []
    for t in types:
        if t in covered:
            continue
        if t in EXCLUDED:
            NOT_DRIVEN[t] = EXCLUDED[t]
            continue
        if _re.search(r'vision|audio|encoder|sam|video|image|speech|_vit|patcher|loftr|dinov|detr|depth|mask', t):
            NOT_DRIVEN[t] = 'not a text attention (vision, audio or speech part of its family)'
            continue
        try:
            cfg = AutoConfig.for_model(t)
        except Exception as e:
            NOT_DRIVEN[t] = f'its config class does not build with its defaults ({type(e).__name__})'
            continue
        tc = text_config(cfg)
        if not getattr(tc, 'num_attention_heads', None) or not getattr(tc, 'max_position_embeddings', None):
            NOT_DRIVEN[t] = 'its text config has no num_attention_heads / max_position_embeddings (not a text attention)'
            continue
        published = {'model_type': t}
        source = f'transformers {transformers.__version__} {type(cfg).__name__}() defaults'
        if t in PUBLISHED_FOR_DEFAULTS:  # the class defaults do not build a model: published values instead
            source, published = PUBLISHED_FOR_DEFAULTS[t]
            cfg = AutoConfig.for_model(t, **{k: v for k, v in published.items() if k != 'model_type'})
            tc = text_config(cfg)
        mp = int(tc.max_position_embeddings)
        pos = [0, 3, mp - 1]
        rp = getattr(tc, 'rope_parameters', None) or {}
        try:
            fwd = inspect.getsource(rotary_class(modeling(t), tc).forward)
        except Exception:
            fwd = ''
        if (isinstance(rp, dict) and rp.get('mrope_section')) or 'position_ids[:, :, None, :]' in fwd:
            pos = [pos, [0, 1, 2], [0, 2, 1]]  # M-RoPE: temporal, height, width rows
        out.append((f'default-{t}', source, published, pos))
    return out


# ---- float64 execution of transformers' own code ----------------------------------------------

@contextlib.contextmanager
def float64_everywhere():
    saved = (torch.float, torch.float32, torch.Tensor.float, torch.get_default_dtype())
    torch.float = torch.float64
    torch.float32 = torch.float64
    torch.Tensor.float = lambda self, *a, **k: self.double()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.float, torch.float32, torch.Tensor.float = saved[0], saved[1], saved[2]
        torch.set_default_dtype(saved[3])


def modeling(model_type):
    mod = model_type_to_module_name(model_type)
    try:
        return importlib.import_module(f'transformers.models.{mod}.modeling_{mod}')
    except ImportError:
        if not mod.endswith('_text'):
            raise
        mod = mod[: -len('_text')]  # text half of a multimodal family lives in the family's module
        return importlib.import_module(f'transformers.models.{mod}.modeling_{mod}')


def text_config(cfg):
    return cfg.get_text_config(decoder=True) if hasattr(cfg, 'get_text_config') else cfg


def takes_config(c, tcfg):
    """0 when c.__init__ declares a config of tcfg's class (the text model's own module), else 1."""
    try:
        ann = inspect.signature(c.__init__).parameters['config'].annotation
    except Exception:
        return 1
    name = ann if isinstance(ann, str) else getattr(ann, '__name__', '')
    return 0 if name == type(tcfg).__name__ else 1


def rotary_class(m, tcfg):
    names = [n for n, c in vars(m).items() if inspect.isclass(c) and n.endswith('RotaryEmbedding')
             and 'Vision' not in n and 'Audio' not in n and c.__module__ == m.__name__]
    # prefer the text model's own rotary class (its config annotation, then the name)
    names.sort(key=lambda n: (takes_config(vars(m)[n], tcfg), 0 if 'Text' in n else 1, len(n)))
    if not names:
        raise RuntimeError(f'no rotary embedding class in {m.__name__}')
    return vars(m)[names[0]]


def builds_rotary(cfg):
    """Whether the model transformers builds from cfg (AutoModel on the meta device) holds a text
    rotary embedding module; True when the model cannot be built that way (the harness decides)."""
    from transformers import AutoModel
    msrc = inspect.getsource(modeling(text_config(cfg).model_type))
    if 'create_sinusoidal_positions' in msrc:
        return True  # GPT-J, CodeGen: a sin/cos table buffer, no module
    if getattr(text_config(cfg), 'alibi', False) and 'if alibi is None:' in msrc:
        return False  # Falcon with ALiBi: the rotary module is built, its attention never applies it
    model = None
    for fix in ({}, {'vocab_size': 32, 'pad_token_id': 0}):  # (ESM's class leaves vocab_size None)
        try:
            c = copy.deepcopy(cfg)
            for k, v in fix.items():
                setattr(c, k, v)
            with torch.device('meta'):
                model = AutoModel.from_config(c)
            break
        except Exception:
            continue
    if model is None:
        return True
    return any(type(mod).__name__.endswith(('RotaryEmbedding', 'RotaryPositionalEmbedding'))
               and not re.search(r'Vision|Audio|Visual|Image', type(mod).__name__) for mod in model.modules())


def gen_input(count, seed):
    i = np.arange(count, dtype=np.uint64)
    u = (i * np.uint64(2654435761) + np.uint64(seed * 40503)) % np.uint64(2 ** 32)
    return (u.astype(np.float64) / 2 ** 32 * 2 - 1).astype(np.float32)


def rope_head_dim(tcfg, layer_type=None):
    if type(tcfg).__name__ == 'DeepseekV4Config':
        return tcfg.head_dim  # the whole head: its apply rotates the trailing qk_rope_head_dim itself
    if getattr(tcfg, 'qk_rope_head_dim', None):
        return tcfg.qk_rope_head_dim
    if layer_type is not None and getattr(tcfg, 'per_layer_config', None) is not None:
        try:  # Gemma 4: head sizes per layer type
            return tcfg.per_layer_config[layer_type].head_dim
        except Exception:
            pass
    return getattr(tcfg, 'head_dim', None) or tcfg.hidden_size // tcfg.num_attention_heads


def run_family(model_type, tcfg, positions, heads, seed, layer_type=None):
    """q rotated by the family's own code: float64 (rounded to f32 once) and float32."""
    m = modeling(model_type)
    D = rope_head_dim(tcfg, layer_type)
    T = len(positions[0]) if isinstance(positions[0], list) else len(positions)
    x = gen_input(T * heads * D, seed).reshape(T, heads, D)
    outs = {}
    for prec in ('f64', 'f32'):
        ctx = float64_everywhere() if prec == 'f64' else contextlib.nullcontext()
        with ctx, torch.no_grad():
            dt = torch.float64 if prec == 'f64' else torch.float32
            q = torch.tensor(x, dtype=dt).permute(1, 0, 2)[None].contiguous()  # [1, heads, T, D]
            if model_type in SINUSOIDAL:
                out = gptj_apply(m, tcfg, q, positions, dt)
            else:
                rot = rotary_class(m, tcfg)(config=tcfg)
                pos = torch.tensor(positions, dtype=torch.int64)
                pos = pos[:, None, :] if pos.dim() == 2 else pos[None]
                args = (q, pos) if layer_type is None else (q, pos, layer_type)
                emb = rot(*args)
                out = apply(m, model_type, tcfg, q, emb)
            outs[prec] = out[0].permute(1, 0, 2).contiguous().to(torch.float64).numpy()
    return x, outs


def apply(m, model_type, tcfg, q, emb):
    if model_type.startswith('llama4'):
        out, _ = m.apply_rotary_emb(q.transpose(1, 2), q.transpose(1, 2), emb)
        return out.transpose(1, 2)
    if model_type == 'deepseek_v2':
        out, _ = m.apply_rotary_emb(q, q, emb)
        return out
    cos, sin = emb
    if model_type == 'deepseek_v4':
        return m.apply_rotary_pos_emb(q, cos, sin)  # rotates the trailing slice of the whole head itself
    if uses_interleave_fn(m, tcfg):
        out, _ = m.apply_rotary_pos_emb_interleave(q, q, cos, sin)
        return out
    rd = cos.shape[-1]
    if model_type in ('gpt_oss', 'openai_privacy_filter'):
        rd = q.shape[-1]  # cos/sin hold one value per pair (no cat): the whole head rotates
    q_rot, q_pass = q[..., :rd], q[..., rd:]  # the attention's partial slicing (phi, persimmon, ...)
    fn = m.apply_rotary_pos_emb
    params = inspect.signature(fn).parameters
    if list(params)[:3] == ['x', 'cos', 'sin']:  # Gemma 3n: one tensor per call
        return torch.cat([fn(q_rot, cos, sin), q_pass], dim=-1)
    if 'mrope_section' in params:
        out, _ = fn(q_rot, q_rot, cos, sin, tcfg.rope_parameters['mrope_section'])
    else:
        out, _ = fn(q_rot, q_rot, cos, sin)
    return torch.cat([out, q_pass], dim=-1)


def uses_interleave_fn(m, tcfg):
    """Whether the main attention rotates with apply_rotary_pos_emb_interleave: chosen by
    config.rope_interleave (DeepSeek-V3), or called unconditionally (AXK2, DeepSeek-V3.2)."""
    if not hasattr(m, 'apply_rotary_pos_emb_interleave'):
        return False
    if 'rope_interleave' in inspect.getsource(m):
        return bool(getattr(tcfg, 'rope_interleave', False))
    for name, c in vars(m).items():
        if inspect.isclass(c) and name.endswith(('Attention', 'MLA')) and c.__module__ == m.__name__ \
                and not re.search(r'Vision|Indexer|Cross|Audio', name) \
                and 'apply_rotary_pos_emb_interleave(' in inspect.getsource(c):
            return True
    return False


def gptj_apply(m, tcfg, q, positions, dt):
    # GPTJAttention: embed_positions = create_sinusoidal_positions(max_positions, rotary_dim); sincos
    # gathered by position, split into sin and cos; apply_rotary_pos_emb on [batch, seq, heads, dim].
    rd = tcfg.rotary_dim or q.shape[-1]
    table = m.create_sinusoidal_positions(max(positions) + 1, rd).to(dt)
    sincos = table[torch.tensor(positions)][None]
    sin, cos = torch.split(sincos, sincos.shape[-1] // 2, dim=-1)
    x = q.permute(0, 2, 1, 3)
    rot = m.apply_rotary_pos_emb(x[..., :rd], sin, cos)
    return torch.cat([rot, x[..., rd:]], dim=-1).permute(0, 2, 1, 3)


def style_probe(model_type, tcfg):
    """Which slot a unit vector in slot 0 moves to at position 1: 1 -> interleaved, rd/2 -> half.
    For DeepSeek-V3's rope_interleave, the input pair is what counts: slot 1 feeds slot 0."""
    m = modeling(model_type)
    rot0 = rotary_class(m, tcfg)(config=tcfg) if model_type not in SINUSOIDAL else None
    lt0 = None
    if rot0 is not None and hasattr(rot0, 'layer_types'):
        lt0 = 'full_attention' if 'full_attention' in rot0.layer_types else rot0.layer_types[0]
    D = rope_head_dim(tcfg, lt0)
    with float64_everywhere(), torch.no_grad():
        if model_type in SINUSOIDAL:
            rd = tcfg.rotary_dim or D
            q = torch.zeros(1, 1, 1, D)
            q[..., 1] = 1.0
            out = gptj_apply(m, tcfg, q, [1], torch.float64)
        else:
            rot = rotary_class(m, tcfg)(config=tcfg)
            q = torch.zeros(1, 1, 1, D)
            q[..., 1] = 1.0
            if model_type == 'deepseek_v4':
                q[..., 1] = 0.0
                q[..., D - tcfg.qk_rope_head_dim + 1] = 1.0
            pos = torch.tensor([[1]])
            if (getattr(tcfg, 'rope_parameters', None) and 'mrope_section' in (tcfg.rope_parameters or {})) \
                    or 'position_ids[:, :, None, :]' in inspect.getsource(type(rot).forward):
                pos = torch.tensor([[[1]]] * 3)  # M-RoPE rotary modules take (3, batch, seq) positions
            lt = None
            if hasattr(rot, 'layer_types'):
                lt = 'full_attention' if 'full_attention' in rot.layer_types else rot.layer_types[0]
            emb = rot(q, pos) if lt is None else rot(q, pos, lt)
            out = apply(m, model_type, tcfg, q, emb)
    v = out[0, 0, 0]
    if model_type == 'deepseek_v4':
        v = v[D - 2 * emb[0].shape[-1]:]  # its rotated slice is the trailing one: probe there
        D = v.shape[0]
    # Slot 1's partner: 0 when pairs are (2j, 2j+1); 1 + rd/2 when pairs are (j, j + rd/2).
    nz = [i for i in range(D) if i != 1 and abs(float(v[i])) > 1e-12]
    if uses_interleave_fn(m, tcfg):
        return 'interleaved'  # input (0,1) pair lands in slots (0, rd/2): adjacent input pairs
    return 'interleaved' if nz and nz[0] == 0 else 'half'


# ---- per-layer truth -------------------------------------------------------------------------

def attention_layers(model_type, tcfg):
    """For each decoder layer: the layer type whose cos/sin its attention uses, or None (no rotation).
    Read from the family's own decoder-layer/attention modules, built on the meta device."""
    m = modeling(model_type)
    n = tcfg.num_hidden_layers
    layer_cls = [c for name, c in vars(m).items() if inspect.isclass(c) and name.endswith('DecoderLayer')
                 and c.__module__ == m.__name__ and 'Vision' not in name]
    if not layer_cls:  # encoders (ModernBERT, ESM): their layer classes
        layer_cls = [c for name, c in vars(m).items() if inspect.isclass(c) and name.endswith(('EncoderLayer', 'Layer'))
                     and c.__module__ == m.__name__ and not re.search(r'Vision|Audio|Norm|Embedding|Head', name)]
    # the layer class named after the config class (Qwen3OmniMoeTalkerCodePredictor...), else by annotation
    stem = type(tcfg).__name__[:-len('Config')]
    layer_cls = [c for c in layer_cls if not c.__name__.startswith('DiT')]
    layer_cls.sort(key=lambda c: (0 if c.__name__.startswith(stem) else 1, takes_config(c, tcfg),
                                  0 if 'Text' in c.__name__ else 1, len(c.__name__)))
    attn_src = None
    out = []
    filled = None
    with torch.device('meta'):
        for i in range(n):
            lt = tcfg.layer_types[i] if getattr(tcfg, 'layer_types', None) else None
            try:
                layer = layer_cls[0](tcfg, i)
            except (AttributeError, TypeError):
                filled = filled or with_layer_sizes(tcfg)
                layer = layer_cls[0](filled, i)
            attn = getattr(layer, 'self_attn', None) or getattr(layer, 'attention', None) or getattr(layer, 'attn', None)
            if attn is None:
                out.append(None)  # linear attention / mamba: no rotation
                continue
            if attn_src is None:
                attn_src = inspect.getsource(type(attn).forward)
            if getattr(attn, 'use_rope', True) in (False, 0):
                out.append(None)
                continue
            if re.search(r'if self\.sliding_window is not None( or self\.force_rope)?:\s*\n\s*query_states, key_states = apply_rotary', attn_src) \
                    and attn.sliding_window is None and not getattr(attn, 'force_rope', False):
                out.append(None)  # Cohere2: rope only in sliding-window layers (Cohere2-MoE: or force_rope)
                continue
            if re.search(r'if self\.is_local_attention:\s*\n\s*cos, sin = position_embeddings', attn_src) \
                    and not attn.is_local_attention:
                out.append(None)  # AFMoE: only local (sliding) layers rotate
                continue
            if re.search(r'if self\.sliding_window is None or self\.is_sliding:', attn_src) \
                    and attn.sliding_window is not None and not attn.is_sliding:
                out.append(None)  # EXAONE 4: with sliding layers, full layers are NoPE
                continue
            if lt in ('linear_attention', 'mamba', 'conv'):
                out.append(None)  # MiniMax, OLMo-hybrid: the linear-attention module is also called self_attn
                continue
            out.append(lt)
    # The text model's forward passes no position embeddings to layers whose layer_rope_theta is 0
    # (Granite SWA, Muse Glimmer): read that rule from the code, apply it to the config's list.
    if re.search(r'(if|else) self\.config\.layer_rope_theta\[i\]|theta = self\.config\.layer_rope_theta\[i\]', inspect.getsource(m)):
        out = [None if not tcfg.layer_rope_theta[i] else t for i, t in enumerate(out)]
    return out


# Sizes a sub-config leaves to its parent (dropout, expert counts, indexer budgets): a decoder layer
# built on the meta device needs them, and none of them takes part in the rotation.
LAYER_SIZES = {'dropout_rate': 0.0, 'dropout': 0.0, 'attention_dropout': 0.0, 'mlp_only_layers': [],
               'num_experts': 4, 'num_local_experts': 4, 'n_routed_experts': 4, 'num_experts_per_tok': 2,
               'n_group': 1, 'topk_group': 1, 'moe_intermediate_size': 8, 'indexer_budget': 64,
               'indexer_compress_ratio': 4, 'n_shared_experts': 1, 'decoder_sparse_step': 1,
               'cross_attention_hidden_size': None, 'indexer_n_heads': 2, 'indexer_kv_heads': 1, 'indexer_head_dim': 8}


def with_layer_sizes(tcfg):
    c = copy.deepcopy(tcfg)
    for k, v in LAYER_SIZES.items():
        try:
            missing = getattr(c, k, None) is None
        except Exception:
            missing = True
        if missing:
            setattr(c, k, copy.deepcopy(v) if v is not None else c.hidden_size)
    return c


def layer_rotary(model_type, tcfg, layer_types):
    """inv_freq (float64) and attention scaling per layer type, from the family's rotary module."""
    m = modeling(model_type)
    res = {}
    with float64_everywhere(), torch.no_grad():
        rot = rotary_class(m, tcfg)(config=tcfg)
        for lt in sorted({t for t in layer_types if t is not None}):
            if hasattr(rot, 'layer_types'):
                inv = getattr(rot, f'{lt}_inv_freq')
                sc = getattr(rot, f'{lt}_attention_scaling')
            else:
                inv, sc = rot.inv_freq, rot.attention_scaling
            res[lt] = {'inv_freq': [float(v) for v in inv], 'attention_scaling': float(sc)}
    return res


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype='<f4').tobytes()).decode()


def main():
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    index = []
    listed = cases()
    covered = {c[2]['model_type'] for c in listed} | {c[2].get('text_config', {}).get('model_type') for c in listed}
    defaults = '--defaults' in only
    if defaults:
        only = set()
        listed = default_cases(covered)
    for seed, (case, source, published, positions) in enumerate(listed, start=1):
        if only and case not in only:
            continue
        try:
            fx = make_fixture(case, source, published, positions, seed)
        except Exception as e:  # defaults mode: a family the harness cannot drive is reported, not written
            if not case.startswith('default-'):
                raise
            print(f'{case}: skipped ({type(e).__name__}: {str(e)[:100]})')
            NOT_DRIVEN[case[len('default-'):]] = f'the harness cannot run its code yet ({type(e).__name__}: {str(e)[:90]})'
            continue
        path = os.path.join(OUT, case + '.json')
        with open(path, 'w') as f:
            json.dump(fx, f, separators=(',', ':'))
        if fx.get('no_rope'):
            print(f"{case}: {fx['model_type']} no RoPE ({fx['no_rope']})")
            continue
        print(f"{case}: {fx['model_type']} style={fx['style']} f32-vs-f64 {fx['max_abs_diff_f32']:.2e}"
              + (f" layers={sum(1 for l in fx['layers'] if l)}/{len(fx['layers'])}" if 'layers' in fx else ''))
    if defaults:
        # every model type of the family table without a fixture, and why (test/models checks that
        # each type has a fixture or an entry here)
        with open(COVERAGE, 'w') as f:
            json.dump({'transformers': transformers.__version__, 'script': 'scripts/gen/gen-model-vectors.py --defaults',
                       'not_driven': dict(sorted(NOT_DRIVEN.items()))}, f, indent=1)
            f.write('\n')


def make_fixture(case, source, published, positions, seed):
    if True:
        kw = copy.deepcopy(published)
        model_type = kw.pop('model_type')
        cfg = AutoConfig.for_model(model_type, **kw)
        tcfg = text_config(cfg)
        tmt = tcfg.model_type if model_type not in ('llama4',) else 'llama4'
        tmt = {'gemma3_text': 'gemma3', 'qwen3_vl_text': 'qwen3_vl', 'qwen2_5_vl_text': 'qwen2_5_vl',
               'qwen2_vl_text': 'qwen2_vl', 'llama4_text': 'llama4', 'gemma3n_text': 'gemma3n'}.get(tmt, tmt)
        if not builds_rotary(cfg):
            # The model transformers builds from this config has no rotary module at all (ESM with
            # absolute positions, Granite hybrid without 'rope', Zamba2 without use_mem_rope): the
            # fixture says so, and rope-simd must refuse fromConfig and give null for every layer.
            n = getattr(tcfg, 'num_hidden_layers', None)
            return {
                'case': case, 'model_type': model_type, 'transformers': transformers.__version__, 'source': source,
                'config_published': published if not case.startswith('default-') else json.loads(cfg.to_json_string(use_diff=False)),
                'config_saved': json.loads(cfg.to_json_string(use_diff=False)),
                'no_rope': 'the model built from this config (AutoModel, meta device) applies no rotary embedding',
                'layers': [None] * n if n else None,
            }
        heads = 2
        layered = getattr(tcfg, 'layer_types', None) is not None or hasattr(tcfg, 'no_rope_layers')
        main_lt = None
        rot = rotary_class(modeling(tmt), tcfg)(config=tcfg) if tmt not in SINUSOIDAL else None
        if rot is not None and hasattr(rot, 'layer_types'):
            # the full-attention layers' rotation (fromConfig's), else the first layer type's (Zaya)
            main_lt = 'full_attention' if 'full_attention' in rot.layer_types else sorted(rot.layer_types)[0]
            if tmt == 'deepseek_v4':
                main_lt = 'main'  # its sliding layers' rotation (the compressed layers use 'compress')
        x, outs = run_family(tmt, tcfg, positions, heads, seed, main_lt)
        f64 = outs['f64']
        scale = float(np.max(np.abs(f64))) or 1.0
        fx = {
            'case': case,
            'model_type': model_type,
            'transformers': transformers.__version__,
            'source': source,
            # defaults cases: the class's defaults are the published values, saved as transformers 5 saves them
            'config_published': published if not case.startswith('default-') else json.loads(cfg.to_json_string(use_diff=False)),
            'config_saved': json.loads(cfg.to_json_string(use_diff=False)),
            'rot_head_dim': int(x.shape[2]),
            'heads': heads,
            'tokens': int(x.shape[0]),
            'positions': positions,
            'seed': seed,
            'style': style_probe(tmt, tcfg),
            'output_f64': b64(f64),
            'max_abs_diff_f32': float(np.max(np.abs(outs['f32'] - f64))) / scale,
        }
        if main_lt not in (None, 'full_attention'):
            fx['layer_type'] = main_lt  # the layer type output_f64 is for
        if layered and tmt != 'deepseek_v4':  # (DeepSeek-V4's per-layer rotations are keyed main/compress, not by layer type)
            per_layer = attention_layers(tmt, tcfg)
            fx['layers'] = per_layer
            fx['layer_rotary'] = layer_rotary(tmt, tcfg, per_layer)
        return fx


main()
