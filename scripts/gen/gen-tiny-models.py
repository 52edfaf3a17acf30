#!/usr/bin/env python3
"""Tiny random-weight Llama-family models and transformers' greedy runs of them, as fixtures for
examples/llama (test/models/examples-llama.test.ts).

For each architecture the decoder example supports, this builds a model with transformers (random
weights, a seed), saves config.json + model.safetensors (float32), then runs transformers' own
modeling code in float64 (model.double(), eager attention, the whole sequence recomputed for every
step, no cache) greedily from a fixed prompt, and records the generated ids and every step's logits
in expected.json. transformers keeps two things in float32 even in a float64 model: RMSNorm's
variance and RoPE's cos/sin (their forwards cast to torch.float32 on purpose); both are far inside
the test's tolerance (1e-4 of the largest |logit|).

Weights are drawn wide (initializer_range below) so that greedy choices are well separated: a seed
is kept only if, at every step, the top-2 logits differ by more than MIN_MARGIN of the largest
|logit| (100x the test's tolerance), else the next seed is tried.

Also dtypes.safetensors/.json: F32, BF16 and F16 tensors written by the safetensors library and the
values torch reads from them, for the example's safetensors reader.

Run: python3 scripts/gen/gen-tiny-models.py   (rewrites test/fixtures/tiny-models/; ~10 s on CPU)
"""
import json
import os
import shutil
import sys
import tempfile

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'tiny-models')
MIN_MARGIN = 1e-2
NEW_TOKENS = 8

COMMON = dict(
    vocab_size=256,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,  # GQA: 2 query heads per key/value head
    max_position_embeddings=256,
    rms_norm_eps=1e-5,
    initializer_range=0.15,
    bos_token_id=1,
    eos_token_id=2,
)

# name -> (model_type, config overrides, prompt length)
MODELS = {
    'llama': ('llama', dict(rope_theta=10000.0), 12),
    # Llama 3.1-style scaling with a small original context, and a prompt past it (40 > 32), so
    # positions in all three llama3 bands (kept, smoothed, divided by factor) matter.
    'llama3-scaled': ('llama', dict(
        num_hidden_layers=3,
        rope_parameters=dict(rope_type='llama3', rope_theta=500000.0, factor=8.0, low_freq_factor=1.0,
                             high_freq_factor=4.0, original_max_position_embeddings=32),
    ), 40),
    # A sliding window shorter than the run (prompt 20 + 8 new), so the window mask matters.
    'mistral': ('mistral', dict(rope_theta=1000000.0, sliding_window=12), 20),
    # q/k/v biases (Qwen2 always has them), tied input/output embeddings.
    'qwen2': ('qwen2', dict(rope_theta=1000000.0, tie_word_embeddings=True), 16),
    # q/k RMSNorm per head, explicit head_dim (4 heads x 32 = 128 != hidden_size 64).
    'qwen3': ('qwen3', dict(rope_theta=1000000.0, head_dim=32, tie_word_embeddings=False), 16),
}


def build(model_type, overrides, seed):
    torch.manual_seed(seed)
    config = AutoConfig.for_model(model_type, **{**COMMON, **overrides})
    config._attn_implementation = 'eager'
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    with torch.no_grad():
        # transformers initialises norms to 1 and biases to 0: randomise them so that a decoder
        # that ignored them would fail.
        for name, p in model.named_parameters():
            if name.endswith('norm.weight'):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif name.endswith('.bias'):
                p.copy_(0.2 * torch.randn_like(p))
    return model.eval()


def greedy(model, prompt):
    m = model.double()
    ids = list(prompt)
    rows, margins = [], []
    with torch.no_grad():
        for _ in range(NEW_TOKENS):
            logits = m(torch.tensor([ids])).logits[0, -1]
            top = torch.topk(logits, 2).values
            margins.append(float((top[0] - top[1]) / logits.abs().max()))
            nxt = int(torch.argmax(logits))
            rows.append([float(v) for v in logits])
            ids.append(nxt)
    return ids[len(prompt):], rows, min(margins)


def dtypes_file():
    """One small file per dtype the example reads (F32, BF16, F16), written by the safetensors
    library, and the values torch reads back, for the example's own reader to match."""
    from safetensors.torch import save_file
    g = torch.Generator().manual_seed(7)
    base = torch.cat([torch.randn(29, generator=g) * 100,
                      torch.tensor([0.0, -0.0, 1.0, -2.5, 6e-8, 65504.0, 1e-40])])  # subnormals, f16 max
    tensors = {'f32': base.reshape(4, 9), 'bf16': base.to(torch.bfloat16).reshape(4, 9),
               'f16': base.to(torch.float16).reshape(36)}
    save_file(tensors, os.path.join(OUT, 'dtypes.safetensors'))
    expected = {k: {'shape': list(v.shape), 'values': [float(x) for x in v.float().flatten()]} for k, v in tensors.items()}
    with open(os.path.join(OUT, 'dtypes.json'), 'w') as f:
        json.dump(expected, f)
        f.write('\n')


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    dtypes_file()
    for name, (model_type, overrides, prompt_len) in MODELS.items():
        for seed in range(100):
            model = build(model_type, overrides, seed)
            g = torch.Generator().manual_seed(1000 + seed)
            prompt = [int(t) for t in torch.randint(3, COMMON['vocab_size'], (prompt_len,), generator=g)]
            with tempfile.TemporaryDirectory() as tmp:
                model.save_pretrained(tmp, safe_serialization=True)  # float32 on disk
                tokens, logits, margin = greedy(model, prompt)
                if margin < MIN_MARGIN:
                    print(f'{name}: seed {seed} margin {margin:.2e} too small, next seed', file=sys.stderr)
                    continue
                d = os.path.join(OUT, name)
                os.makedirs(d)
                for f in ('config.json', 'model.safetensors'):
                    shutil.copy(os.path.join(tmp, f), d)
            expected = {
                'source': 'scripts/gen/gen-tiny-models.py: transformers greedy run in float64',
                'transformers': transformers.__version__,
                'torch': torch.__version__,
                'seed': seed,
                'min_top2_margin': margin,
                'prompt': prompt,
                'tokens': tokens,
                'logits': logits,
            }
            with open(os.path.join(d, 'expected.json'), 'w') as f:
                json.dump(expected, f)
                f.write('\n')
            size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
            print(f'{name}: seed {seed}, margin {margin:.3f}, tokens {tokens}, {size // 1024} kB')
            break
        else:
            raise SystemExit(f'{name}: no seed in 0..99 gives a top-2 margin >= {MIN_MARGIN}')


if __name__ == '__main__':
    main()
