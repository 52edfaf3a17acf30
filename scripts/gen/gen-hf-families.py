#!/usr/bin/env python3
"""Writes lib/generated/hf-families.ts: for every model_type whose transformers modeling code applies rotary
embeddings, the pair style that code uses. Reads the installed transformers' own source:
apply_rotary_pos_emb (and the rotary module feeding it) decides the style:
  - rotate_half with cat((freqs, freqs)) cos/sin -> 'half' (pairs j, j + rotaryDim/2)
  - rotate_every_two / repeat_interleave(2) of cos,sin / view_as_complex of (2j, 2j+1) -> 'interleaved'
The vectors of scripts/gen/gen-model-vectors.py then check the style numerically per family.
Usage: python3 scripts/gen/gen-hf-families.py [--check]"""
import ast, json, os, re, sys, inspect
import transformers
from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

ROOT = os.path.dirname(transformers.__file__)
OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'lib', 'generated', 'hf-families.ts')
DOC = os.path.join(os.path.dirname(__file__), '..', '..', 'docs', 'maintainers', 'hf-config-reads.md')


def func_src(src, name):
    """Source of top-level def `name` (last definition wins, like Python)."""
    found = None
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            found = ast.get_source_segment(src, node)
    return found


def classes_src(src, suffix):
    out = []
    tree = ast.parse(src)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name.endswith(suffix):
            out.append(ast.get_source_segment(src, node))
    return out


INTERLEAVED = [
    (r'rotate_every_two', 'rotate_every_two'),
    (r'repeat_interleave\(\s*2|\.repeat_interleave\(2|repeat_interleave\([^,]+,\s*2', 'repeat_interleave(2) of cos/sin'),
    (r'view_as_complex', 'view_as_complex of (2j, 2j+1)'),
    (r'x\[\.\.\.,\s*0::2\]|x\[\.\.\.,\s*::2\]', 'x[..., ::2] pairs'),
]


def main_attention_calls(src, fn):
    """Whether a text attention class (not an indexer, vision or cross attention) calls fn."""
    for cls in classes_src(src, 'Attention'):
        name = cls.split('(')[0]
        if re.search(r'Vision|Indexer|Cross|Audio', name):
            continue
        if re.search(rf'\b{fn}\(', cls):
            return True
    return False


def negated_rotate_half(src):
    """rotate_half returning cat((x2, -x1)): the rotation by minus the angle (NanoChat)."""
    f = func_src(src, 'rotate_half')
    return bool(f and re.search(r'torch\.cat\(\(\s*x2\s*,\s*-\s*x1\s*\)', f))


def classify(src):
    """(style, evidence) from the modeling source, or None when the file applies no RoPE."""
    apply = (func_src(src, 'apply_rotary_pos_emb') or func_src(src, 'apply_rotary_emb')
             or func_src(src, 'apply_rotary_position_embeddings'))
    if 'rope_interleave' in src:
        # DeepSeek-V3 and kin: config.rope_interleave picks apply_rotary_pos_emb_interleave (adjacent
        # pairs, written back in rotate_half slots) over apply_rotary_pos_emb.
        return 'half', 'rotate_half; config.rope_interleave -> apply_rotary_pos_emb_interleave', 'rope_interleave'
    if func_src(src, 'apply_rotary_pos_emb_interleave') and (apply is None or main_attention_calls(src, 'apply_rotary_pos_emb_interleave')):
        # the main attention calls the _interleave function (AXK2, DeepSeek-V3.2), whatever other
        # function the file also defines (their indexers use apply_rotary_pos_emb)
        return 'interleaved', 'apply_rotary_pos_emb_interleave (adjacent pairs) in the main attention', None
    rotary = '\n'.join(classes_src(src, 'RotaryEmbedding'))
    if apply is None and not rotary:
        return None
    body = (apply or '') + '\n' + rotary
    # the helpers apply calls (OpenAI privacy filter's _apply_rotary_emb pairs x[..., ::2], x[..., 1::2])
    for helper in re.findall(r'\b(_\w+)\(', apply or ''):
        body += '\n' + (func_src(src, helper) or '')
    for pat, why in INTERLEAVED:
        if re.search(pat, body):
            return 'interleaved', why, None
    if apply is not None and 'rotate_half' in apply:
        return 'half', 'rotate_half', None
    if apply is None:
        return None
    return 'half', 'first/second halves (x1, x2 = chunk(2))', None


def mrope_rules(src):
    """Text M-RoPE families: the section default of the text rotary class, and whether its
    recomposition interleaves sections (slice(offset, length, 3)) or lays them out in blocks."""
    out = {}
    for cls in classes_src(src, 'RotaryEmbedding'):
        if 'Vision' in cls.split('(')[0]:
            continue
        m = re.search(r'rope_parameters\.get\("mrope_section", (\[[\d, ]+\])\)', cls)
        if not m:
            continue
        out['mropeDefault'] = [int(v) for v in re.findall(r'\d+', m.group(1))]
        out['mropeInterleaved'] = bool(re.search(r'slice\(offset, length, 3\)|apply_interleaved_mrope', cls))
        if re.search(r'torch\.stack\(\[freq_h, freq_w\], dim=-1\)\.flatten\(-2\)', cls):
            out['mropeInterleaved'] = 'hw'  # Ernie 4.5 VL: h, w alternate pair by pair, then t
        break
    return out


def layer_rules(src):
    """Per-layer rules visible in the attention code."""
    rules = {}
    # apply_rotary_pos_emb defined (copied from Llama) but no rotary module feeding the attention:
    # the family applies no RoPE (Jamba, Nemotron-H).
    if not re.search(r'RotaryEmbedding\(|RotaryPositionalEmbedding|cos, sin = position_embeddings|freqs_cis|'
                     r'position_embeddings\[|create_sinusoidal_positions', src):
        rules['noRope'] = True
    if re.search(r'self\.use_rope = config\.no_rope_layers\[layer_idx\]', src):
        rules['noRopeLayers'] = True  # no_rope_layers[i] == 0: layer i applies no rotation
    if re.search(r'if self\.sliding_window is not None( or self\.force_rope)?:\s*\n\s*query_states, key_states = apply_rotary', src):
        rules['ropeOnlySliding'] = 'always'  # Cohere2 (Cohere2-MoE: or force_rope)
    elif re.search(r'if self\.is_local_attention:\s*\n\s*cos, sin = position_embeddings\s*\n\s*query_states, key_states = apply_rotary', src):
        rules['ropeOnlySliding'] = 'always'  # AFMoE: only its local (sliding) layers rotate
    elif re.search(r'if self\.sliding_window is None or self\.is_sliding:', src):
        rules['ropeOnlySliding'] = 'ifAnySliding'  # EXAONE 4
    return rules


def switch_rules(src):
    """Config switches the family's code turns RoPE on or off with, and formulas of its own."""
    rules = {}
    m = re.search(r'position_embedding_type\s*==\s*"(rotary|rope)"', src)
    # (Evolla: the switch belongs to its SaProt protein encoder, not to the text decoder)
    if m and 'class EvollaSaProt' not in src:
        rules['ropeSwitch'] = ('position_embedding_type', m.group(1))  # ESM 'rotary', Granite hybrid 'rope'
    if re.search(r'if self\.config\.use_mem_rope:', src):
        rules['ropeSwitch'] = ('use_mem_rope', True)  # Zamba2
    if re.search(r'self\.use_alibi = config\.alibi', src) and re.search(r'if alibi is None:', src):
        rules['ropeSwitch'] = ('alibi', False)  # Falcon: ALiBi instead of RoPE when config.alibi
    if re.search(r'Rotary\w*\(config=config\)\s*\n\s*if getattr\(config, "rope_parameters", None\) is not None\s*\n\s*'
                 r'and config\.rope_parameters\.get\("rope_theta"\) is not None', src):
        rules['ropeIfTheta'] = True  # OLMo hybrid: rope_theta null (its released checkpoints) = no RoPE
    if re.search(r'rope_parameters\["alpha"\] \*\* \(', src) or re.search(r'alpha \*\* \(dim / \(dim - 2\)\)', src):
        rules['alphaBase'] = True  # HunYuan: dynamic + alpha -> base * alpha ** (d / (d - 2))
    if re.search(r'self\.force_rope = \(\s*config\.mlp_layer_types\[layer_idx\] == "dense" and config\.prefix_dense_sliding_window_pattern == 1', src):
        rules['forceRopeDense'] = True  # Cohere2-MoE: dense-MLP layers rotate when the prefix pattern is 1
    if re.search(r'theta = self\.config\.layer_rope_theta\[i\]', src):
        rules['layerTheta'] = 'base'  # Granite SWA: per-layer base, 0 = NoPE
    elif re.search(r'position_embeddings if self\.config\.layer_rope_theta\[i\] else None', src):
        rules['layerTheta'] = 'switch'  # Muse Glimmer: 0 = NoPE, else the model's one rotation
    if re.search(r'in self\.cross_attention_layers', src):
        rules['crossAttentionLayers'] = True  # Mllama: those layers attend to vision, no rotation
    return rules


def config_class_rules(d):
    """Rules a config class's __post_init__ writes that the modeling code then reads."""
    rules = {}
    for f in sorted(os.listdir(d)):
        if f.startswith('configuration_') and f.endswith('.py'):
            m = re.search(r'0 if \(self\.num_hidden_layers - 1 - i\) % (\d+) == 0 else self\.rope_parameters\["rope_theta"\]',
                          open(os.path.join(d, f)).read())
            if m:
                rules['layerThetaNoPeEvery'] = int(m.group(1))  # Muse Glimmer's default layer_rope_theta
            src = open(os.path.join(d, f)).read()
            if 'self.rope_parameters["full_attention"].update(rope_scaling)' in src \
                    and 'self.rope_parameters["sliding_attention"].update(rope_scaling)' not in src:
                # OLMo 3, Gemma 3, T5Gemma 2: a flat rope_scaling scales the full-attention layers only
                rules['flatScalingFullOnly'] = True
                if src.count('kwargs.pop("rope_theta", self.default_theta)') >= 2:
                    # OLMo 3: the first pop takes rope_theta for the full layers; the sliding ones keep
                    # the class's default_theta
                    rules['slidingThetaDefault'] = True
            m = re.search(r'global_attn_every_n_layers = kwargs\.get\("global_attn_every_n_layers", (\d+)\)', src)
            if m and re.search(r'kwargs\.pop\("global_rope_theta"', src) and re.search(r'kwargs\.pop\("local_rope_theta"', src):
                # ModernBERT: published configs spell the per-layer-type thetas and the global-layer
                # period this way; layer i is global when i % period == 0
                rules['globalEvery'] = int(m.group(1))
    return rules


def class_rope(model_type):
    """The rope_parameters the config class fills in when a config.json has none, when they are more
    than a plain rope_theta (a scaling, a rotary fraction, M-RoPE sections, per layer type)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    try:
        cfg = CONFIG_MAPPING[model_type]()
        tc = cfg.get_text_config(decoder=True)
    except Exception:
        return None
    rp = getattr(tc, 'rope_parameters', None)
    if not isinstance(rp, dict) or rp.get('rope_type') == 'axial':
        return None
    nested = any(isinstance(v, dict) for v in rp.values())
    if not nested and rp.get('rope_type', 'default') == 'default' and set(rp) <= {'rope_type', 'rope_theta'}:
        return None
    return json.loads(json.dumps(rp))


def switch_default_on(model_type, key, value):
    """Whether the config class's default for the switch turns RoPE on (a config.json without the key)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    try:
        return getattr(CONFIG_MAPPING[model_type](), key, None) == value
    except Exception:
        return False


def default_theta(model_type):
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    try:
        t = getattr(CONFIG_MAPPING[model_type], 'default_theta', 10000.0)
    except Exception:
        return None
    if isinstance(t, dict):
        alias = {'full_attention': 'global', 'sliding_attention': 'local'}
        return {alias.get(k, k): float(v) for k, v in t.items()}
    return None if float(t) == 10000.0 else float(t)


# ---- which config attributes each family's code reads, and what rope-simd does with each ---------
#
# For every family: the attributes of `config` (also `getattr(config, "x")`, rope_parameters["x"] and
# rope_parameters.get("x")) read by its rotary embedding, attention, decoder-layer and text-model
# classes (vision/audio classes left out). Each attribute has a reviewed role:
#   INTERPRETED - lib/models/hf-config.ts or hf-layers.ts reads it (test/models/hf-families.test.ts
#                 checks that the name occurs there);
#   NOT_ROPE    - it does not change which values are rotated by which angle (sizes of other
#                 projections, dropout, norms, MoE, Mamba, vision/audio parts, ...);
#   REFUSED     - it changes the rotation and rope-simd does not interpret it: a config carrying it
#                 (non-null) is refused by name (lib/models/hf-refuse.ts).
# An attribute in none of them stops the script: a new transformers release is reviewed, not guessed.
INTERPRETED = {
    'hidden_size', 'num_attention_heads', 'head_dim', 'rope_parameters', 'rope_theta', 'max_position_embeddings',
    'num_hidden_layers', 'n_layer', 'n_layers', 'num_layers', 'sliding_window', 'layer_types', 'text_config',
    'get_text_config', 'qk_rope_head_dim', 'rope_interleave', 'sliding_window_pattern', 'rotary_dim', 'no_rope_layers',
    'attn_config', 'attention_head_dim', 'n_heads', 'd_model', 'n_embd', 'kv_channels', 'layers_block_type',
    'position_embedding_type', 'use_mem_rope', 'cross_attention_layers', 'layer_rope_theta',
    'prefix_dense_sliding_window_pattern', 'mlp_layer_types',
    'rope_parameters.rope_type', 'rope_parameters.rope_theta', 'rope_parameters.partial_rotary_factor',
    'rope_parameters.mrope_section', 'rope_parameters.original_max_position_embeddings',
    'rope_parameters.long_mscale', 'rope_parameters.short_mscale', 'rope_parameters.factor',
    'rope_parameters.mscale_all_dim', 'rope_parameters.alpha', 'rope_parameters.type',
    # legacy spellings config classes turn into rope_parameters / layer_types
    'rope_scaling', 'rope_local_base_freq', 'full_attention_interval', 'rotary_pct', 'rotary_emb_base',
    'partial_rotary_factor',
}
# Reviewed one by one (the pattern below covers the names that say what they are).
NOT_ROPE = {
    'num_key_value_heads', 'v_head_dim', 'qk_nope_head_dim', 'use_bidirectional_attention', 'drop_path_rate',
    'decoder', 'encoder', 'apply_spec_augment', 'max_seq_len', 'cross_hidden_size', 'cross_num_attention_heads',
    'cross_num_key_value_heads', 'cross_head_dim', 'num_upscale_blocks', 'use_sliding_window',
    # a query factor after the rotation (attention temperature), not cos/sin
    'rope_parameters.llama_4_scaling_beta',
    # Gemma 4: values are the (unrotated) keys' projection; the keys rotate as usual
    'attention_k_eq_v',
    # the DSA indexer's own scoring heads, not the attention's q/k
    'indexer_types',
    # sub-configs of composite models (their text parts are read through their own model_type)
    'global_config', 'encoder_config', 'decoder_config',
    # vision / speech encoders (not text attention)
    'global_attn_indexes', 'position_embeddings_type', 'rotary_embedding_base', 'encoder_num_attention_heads',
    'encoder_num_key_value_heads', 'encoder_hidden_size', 'msa_encoder', 'feed_forward_residual_weights',
    # DeepSeek-V4: hash-routed MoE layers
    'num_hash_layers',
}
REFUSED = {
    # Gemma 4 style: head sizes and rotation per layer from a per-layer config (not expressible yet)
    'per_layer_config',
    # RoFormer: rotates the values too
    'rotary_value',
    # Zamba2: which shared attention block each hybrid layer uses
    'hybrid_layer_ids',
    # Gemma 4: the full-attention layers' head size (per_layer_config is built from it)
    'global_head_dim',
    # ModernBERT's published spellings: per-layer-type thetas and the global-layer period
    'global_rope_theta', 'local_rope_theta', 'global_attn_every_n_layers',
    # Step3p7: per-layer rotary fractions, and its spelling of the layer count
    'partial_rotary_factors', 'layers',
}
NOT_ROPE_PATTERN = re.compile(
    r'dropout|pdrop|eps$|epsilon|bias|init|vocab|token_id|token_index|expert|moe|mlp|intermediate|act$|activation|'
    r'norm|mamba|ssm|conv|^output_|return_dict|use_cache|multiplier|_attn_implementation|gradient|freeze|patch|'
    r'adapter|mask_|tdnn|codebook|quantiz|upsample|resblock|kernel|stride|channel|vision|audio|image|video|speech|'
    r'pad_|vq_|detr|detector|hash_byte|altup|laurel|per_layer_input|soft_tokens|router|jitter|softcap|temperature|'
    r'sink|frame|sampling|hop_length|mel_|vocoder|t2u|dit_|bigvgan|eos_|tie_word|lora_rank|dense|shared|resampler|'
    r'perceiver|logit|scale_emb|scale_depth|clip_qkv|layer_norm|rescale|embedding_rank|embed_dim|emb_dim|embeds|'
    r'ple_|ngram|lru_|w_init|descriptor|floor_scale|attn_scale|query_pre_attn|chunk_size|block_size|num_res|'
    r'pos_embed|crop_size|tubelet|delay|downsample|geometry|time_step|gating|^update$|standardize|_is_quantized|'
    r'^dtype$|model_parallel|swin|projection|projector|canvas|lambda|aggregation|fine_|attn_resolutions|'
    r'structure_head|pairwise|pair_trans|esmc_config|folding|lm_encoder|atomic|res_types|aligner|look_|^hc_|'
    r'o_groups|o_lora|register_tokens|n_inner|num_loops|cycles|prefix_lm|text_hidden|alpha_|alphas_|qk_layer|'
    r'use_post_norm|compress|layer_scale|encodec|streaming|attention_value_scale|_factor$|routed|'
    r'num_key_value_groups|deterministic|qk_scale|head_config|document_token|input_jitter|ff_mult|repeats|'
    r'code_groups|decoder_dim|eoi|patch_length|left_max|right_max|attention_hidden_size|mem_blocks|'
    r'shared_attention|use_long_context|learnable|swiglu|nextn|cross_attention_hidden|semantic_model|'
    r'is_encoder_decoder|use_mask_token|adaptor|decoder_ffn|decoder_attention_heads|image_size|window_size|'
    r'backbone|embedding_size|is_decoder|add_cross_attention|use_gated|use_parallel_residual|parallel_attn|'
    r'num_ln_in_parallel|new_decoder_architecture|multi_query|num_kv_heads|alibi|enable_moe|^linear_|'
    r'embedding_scale|layers_per_stack|cross_layer_interval|moe_layers|heads_per_layer|mup_enabled|max_patch|'
    r'cross_attn_k|first_k|decoder_sparse|mlp_only|^n_ctx$|mlp_dim|^bias$|^gating$|qk_norm|layerscale|^num_channels$|'
    r'char_vocab|num_quantizers|upsample')


def config_reads(src):
    """attribute -> (class name, line, source line) of its first read in the family's text classes."""
    tree = ast.parse(src)
    lines = src.splitlines()
    out = {}

    def holder(v):
        return v.id if isinstance(v, ast.Name) else v.attr if isinstance(v, ast.Attribute) else None

    for cls in tree.body:
        if not isinstance(cls, ast.ClassDef):
            continue
        n = cls.name
        if re.search(r'Vision|Audio|Visual|Image|Video|Speech', n):
            continue
        if not re.search(r'RotaryEmbedding|Attention|DecoderLayer|Layer$|Block$|Model$', n):
            continue
        for node in ast.walk(cls):
            name = None
            if isinstance(node, ast.Attribute) and holder(node.value) in ('config', 'text_config'):
                name = node.attr
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ('getattr', 'hasattr') \
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and holder(node.args[0]) in ('config', 'text_config'):
                name = node.args[1].value
            elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str) \
                    and holder(node.value) in ('rope_parameters', 'rope_scaling'):
                name = 'rope_parameters.' + node.slice.value
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == 'get' and node.args \
                    and isinstance(node.args[0], ast.Constant) and holder(node.func.value) in ('rope_parameters', 'rope_scaling'):
                name = 'rope_parameters.' + str(node.args[0].value)
            if name and name not in out and not name.startswith('__'):
                out[name] = (n, node.lineno, lines[node.lineno - 1].strip())
    return out


def config_kwargs(d, mod, seen):
    """Keys a config class takes from config.json and turns into others (kwargs.pop/get in its
    __init__/__post_init__): only the RoPE-looking names (the rest are legacy spellings of sizes,
    backbone options, ...)."""
    out = {}
    for f in sorted(os.listdir(d)):
        if not (f.startswith('configuration_') and f.endswith('.py')):
            continue
        lines = open(os.path.join(d, f)).read().splitlines()
        for i, line in enumerate(lines, 1):
            for m in re.finditer(r'kwargs\.(?:pop|get)\("([a-z_0-9]+)"', line):
                a = m.group(1)
                if a in seen or a in out or not re.search(r'rope|rotary|theta|head_dim|partial|mrope|layer', a):
                    continue
                out[a] = ('config class', i, line.strip(), f)
    return {a: (c, i, code, f) for a, (c, i, code, f) in out.items()}


def per_layer_rules(d):
    """Gemma 4: the config class gives full-attention layers head_dim = global_head_dim (default N)
    through per_layer_config."""
    for f in sorted(os.listdir(d)):
        if f.startswith('configuration_') and f.endswith('.py'):
            m = re.search(r'global_head_dim = kwargs\.pop\("global_head_dim", (\d+)\)', open(os.path.join(d, f)).read())
            if m:
                return {'globalHeadDim': int(m.group(1))}
    return {}


def role(attr, rules):
    # per_layer_config / global_head_dim are interpreted where they only set the full layers' head size
    if attr in ('per_layer_config', 'global_head_dim') and rules.get('globalHeadDim'):
        return 'interpreted'
    if attr in ('global_rope_theta', 'local_rope_theta', 'global_attn_every_n_layers') and rules.get('globalEvery'):
        return 'interpreted'
    if attr in INTERPRETED:
        return 'interpreted'
    if attr in REFUSED:
        return 'refused'
    if attr in NOT_ROPE or NOT_ROPE_PATTERN.search(attr):
        return 'not-rope'
    return None


def main():
    rows = {}
    unreviewed = []
    for model_type, cfg_name in CONFIG_MAPPING_NAMES.items():
        # the module dir holding this config class
        from transformers.models.auto.configuration_auto import model_type_to_module_name
        mod = model_type_to_module_name(model_type)
        d = os.path.join(ROOT, 'models', mod)
        if not os.path.isdir(d):
            continue
        files = sorted(f for f in os.listdir(d) if f.startswith('modeling_') and f.endswith('.py') and not f.endswith('_tf.py') and 'flax' not in f)
        res = None
        for f in files:
            src = open(os.path.join(d, f)).read()
            r = classify(src)
            if r is not None:
                rules = {**layer_rules(src), **mrope_rules(src), **switch_rules(src)}
                if negated_rotate_half(src):
                    rules['negated'] = True
                ap = func_src(src, 'apply_rotary_pos_emb') or ''
                if re.search(r'\[\.\.\.,\s*-\s*\w+\s*:\s*\]', ap):
                    rules['ropeTail'] = True  # DeepSeek-V4: x[..., -rope_dim:] rotates
                if r[0] == 'interleaved' and 'apply_rotary_pos_emb_interleave' in r[1]:
                    rules['slotsHalf'] = True
                reads = config_reads(src)
                reads.update(config_kwargs(d, mod, reads))
                unknown = sorted(a for a in reads if role(a, {}) is None)
                if unknown:
                    unreviewed.append(f'models/{mod}/{f}: {", ".join(unknown)}')
                rules.update(per_layer_rules(d))
                rules.update(config_class_rules(d))
                rules['reads'] = {a: (role(a, rules), f'models/{mod}/{(r_[3] if len(r_) > 3 else f)}:{r_[1]} ({r_[0]}) {r_[2]}')
                                  for a, r_ in reads.items()}
                cr = class_rope(model_type)
                if cr is not None:
                    rules['classRope'] = cr
                res = (r[0], r[1], f'models/{mod}/{f}', r[2], rules, default_theta(model_type))
                break
        if res is not None:
            rows[model_type] = res
    if unreviewed:
        sys.exit('config attributes read by rotary/attention/decoder code that are not reviewed (add each to '
                 'INTERPRETED, NOT_ROPE or REFUSED):\n' + '\n'.join(unreviewed))
    if '--print' in sys.argv:
        for k, v in sorted(rows.items()):
            print(k, v)
        return
    lines = [
        '// GENERATED by scripts/gen/gen-hf-families.py from transformers ' + transformers.__version__ + ' (its modeling_*.py:',
        '// apply_rotary_pos_emb and the rotary embedding class). Do not edit; rerun the script.',
        "// style: 'half' = rotate_half (pairs j, j + rotaryDim/2); 'interleaved' = pairs (2j, 2j+1)",
        '// (rotate_every_two, repeat_interleave(2) of cos/sin, or complex products of adjacent values).',
        "import type { RopeStyle } from '../types.js';",
        '',
        'export const TRANSFORMERS_VERSION = ' + repr(transformers.__version__).replace("'", "'") + ';',
        '',
        "/** interleaveKey: a config boolean (default true) that switches the family to adjacent pairs. */",
        'export interface HfFamily {',
        '  style: RopeStyle;',
        "  interleaveKey?: 'rope_interleave';",
        '  /** The config class\'s default_theta when not 10000 (Gemma 3: global/local). */',
        '  defaultTheta?: number | { global: number; local: number };',
        '  /** The modeling code defines an apply function but its attention uses no rotary embedding. */',
        '  noRope?: true;',
        '  /** config.no_rope_layers[i] == 0 makes layer i NoPE (Llama 4, SmolLM3). */',
        '  noRopeLayers?: true;',
        "  /** Rotation only in sliding-window layers: 'always' (Cohere2), or 'ifAnySliding' (EXAONE 4). */",
        "  ropeOnlySliding?: 'always' | 'ifAnySliding';",
        '  /** M-RoPE text rotary: the mrope_section it uses when the config has none, and whether it',
        '   * assigns pairs to sections round-robin (Qwen3-VL, Qwen3.5) or in blocks (Qwen2-VL). */',
        '  mropeDefault?: number[];',
        '  mropeInterleaved?: boolean | \'hw\';',
        '  /** RoPE only while config[key] === value (ESM position_embedding_type \'rotary\', Zamba2 use_mem_rope,',
        '   * Falcon alibi false); whenAbsent: whether the class default turns it on. */',
        '  ropeSwitch?: { key: string; value: string | boolean; whenAbsent: boolean };',
        '  /** No rotary module when rope_theta is null or absent (OLMo hybrid\'s released checkpoints). */',
        '  ropeIfTheta?: true;',
        '  /** rope_type \'dynamic\' with rope_parameters.alpha: base = rope_theta * alpha ** (d / (d - 2)) (HunYuan). */',
        '  alphaBase?: true;',
        '  /** Layers whose mlp_layer_types entry is \'dense\' rotate too when prefix_dense_sliding_window_pattern is 1. */',
        '  forceRopeDense?: true;',
        '  /** config.layer_rope_theta[i]: \'base\' = layer i\'s base, 0 = no rotation (Granite SWA); \'switch\' =',
        '   * 0 turns layer i\'s rotation off, other values leave the model\'s one rotation (Muse Glimmer). */',
        "  layerTheta?: 'base' | 'switch';",
        '  /** Without layer_rope_theta the config class makes every n-th layer from the last NoPE. */',
        '  layerThetaNoPeEvery?: number;',
        '  /** Layers in config.cross_attention_layers attend to another modality without rotation (Mllama). */',
        '  crossAttentionLayers?: true;',
        '  /** A flat rope_scaling / rope_parameters scales the full-attention layers only (the config class',
        '   * nests it under full_attention); slidingThetaDefault: the sliding layers keep default_theta. */',
        '  flatScalingFullOnly?: true;',
        '  slidingThetaDefault?: true;',
        '  /** The rope_parameters the config class fills in when config.json has none (its defaults). */',
        '  classRope?: Readonly<Record<string, unknown>>;',
        '  /** ModernBERT: layer i is global (full) when i % global_attn_every_n_layers (default this) == 0, the',
        '   * others sliding; global_rope_theta / local_rope_theta are their bases. */',
        '  globalEvery?: number;',
        '  /** Full-attention layers take head_dim = config.global_head_dim (default this), through',
        '   * per_layer_config (Gemma 4); per_layer_config[i] entries override layer i\'s keys. */',
        '  globalHeadDim?: number;',
        '  /** Its code (or config class) reads config.rotary_dim (GPT-J, CodeGen, MiniMax-M2); elsewhere the key is ignored, as transformers ignores it. */',
        '  readsRotaryDim?: true;',
        '  /** It rotates the trailing rotary dims of each head (x[..., -rope_dim:], DeepSeek-V4). */',
        '  ropeTail?: true;',
        '  /** Its rotate_half returns cat((x2, -x1)): it rotates by minus the angle (NanoChat). */',
        '  negated?: true;',
        '  /** Adjacent pairs (2j, 2j+1) rotated, then written to slots (j, j + d/2) (apply_rotary_pos_emb_interleave). */',
        '  slotsHalf?: true;',
        '  /** Config keys the family\'s code turns into its rotation that rope-simd does not interpret, with',
        '   * the line that reads them: a config carrying one (non-null) is refused by name. */',
        '  uninterpreted?: Readonly<Record<string, string>>;',
        '  from: string;',
        '}',
        '',
        '/** model_type -> pair style of that family\'s attention, and the source it was read from. */',
        'export const HF_FAMILY_STYLE: Readonly<Record<string, HfFamily>> = {',
    ]
    for k in sorted(rows):
        style, why, f, key, rules, theta = rows[k]
        extra = f", interleaveKey: '{key}'" if key else ''
        if theta is not None:
            extra += ', defaultTheta: ' + (str(theta).replace("'", '').replace('.0,', ',').replace('.0}', ' }').replace('{', '{ ') if isinstance(theta, dict) else repr(theta).removesuffix('.0'))
        if rules.get('noRope'):
            extra += ', noRope: true'
        if rules.get('noRopeLayers'):
            extra += ', noRopeLayers: true'
        if rules.get('mropeDefault'):
            extra += ', mropeDefault: [' + ', '.join(map(str, rules['mropeDefault'])) + ']'
            mi = rules['mropeInterleaved']
            extra += ', mropeInterleaved: ' + ("'hw'" if mi == 'hw' else 'true' if mi else 'false')
        if rules.get('ropeOnlySliding'):
            extra += ", ropeOnlySliding: '" + rules['ropeOnlySliding'] + "'"
        if rules.get('ropeSwitch'):
            key, val = rules['ropeSwitch']
            js = 'true' if val is True else 'false' if val is False else f"'{val}'"
            extra += f", ropeSwitch: {{ key: '{key}', value: {js}, whenAbsent: {'true' if switch_default_on(k, key, val) else 'false'} }}"
        if rules.get('ropeIfTheta'):
            extra += ', ropeIfTheta: true'
        if rules.get('layerTheta'):
            extra += f", layerTheta: '{rules['layerTheta']}'"
        if rules.get('layerThetaNoPeEvery'):
            extra += f", layerThetaNoPeEvery: {rules['layerThetaNoPeEvery']}"
        for flag in ('alphaBase', 'forceRopeDense', 'crossAttentionLayers', 'negated', 'slotsHalf', 'ropeTail',
                     'flatScalingFullOnly', 'slidingThetaDefault'):
            if rules.get(flag):
                extra += f', {flag}: true'
        if rules.get('classRope') is not None:
            extra += ', classRope: ' + json.dumps(rules['classRope'], separators=(', ', ': '), sort_keys=True)
        if rules.get('globalEvery'):
            extra += f", globalEvery: {rules['globalEvery']}"
        if rules.get('globalHeadDim'):
            extra += f", globalHeadDim: {rules['globalHeadDim']}"
        if 'rotary_dim' in rules['reads']:
            extra += ', readsRotaryDim: true'
        refused = {a: w for a, (r, w) in rules['reads'].items() if r == 'refused'}
        if refused:
            extra += ', uninterpreted: { ' + ', '.join(f"{a}: {json.dumps(w.split(' (')[0])}" for a, w in sorted(refused.items())) + ' }'
        lines.append(f"  '{k}': {{ style: '{style}'{extra}, from: '{f}: {why}' }},")
    lines.append('};')
    text = '\n'.join(lines) + '\n'
    doc = [
        '# Config attributes each family\'s code reads (transformers ' + transformers.__version__ + ')',
        '',
        'GENERATED by `scripts/gen/gen-hf-families.py`: do not edit. For every model type of',
        '`lib/generated/hf-families.ts`, each attribute of `config` that its rotary embedding, attention,',
        'decoder-layer and text-model classes read, the first line that reads it, and its reviewed role:',
        '`interpreted` (lib/models/hf-config.ts or hf-layers.ts reads it), `not-rope` (it does not change',
        'which values rotate by which angle), `refused` (it does, rope-simd does not interpret it: a config',
        'carrying it is refused by name). The roles are the lists at the top of the script.',
        '',
    ]
    seen = set()
    for k in sorted(rows):
        f, rules = rows[k][2], rows[k][4]
        if f in seen:
            continue
        seen.add(f)
        types = ', '.join(f'`{t}`' for t in sorted(t for t in rows if rows[t][2] == f))
        doc.append(f'## {f}')
        doc.append('')
        doc.append(f'Model types: {types}')
        doc.append('')
        doc.append('| attribute | role | read at |')
        doc.append('|---|---|---|')
        for a, (r, w) in sorted(rules['reads'].items()):
            cell = w.replace('|', '\\|')
            doc.append(f'| `{a}` | {r} | {cell} |')
        doc.append('')
    doc_text = '\n'.join(doc)
    doc_out = os.path.normpath(DOC)
    out = os.path.normpath(OUT)
    if '--check' in sys.argv:
        cur = open(out).read() if os.path.exists(out) else ''
        cur_doc = open(doc_out).read() if os.path.exists(doc_out) else ''
        if cur != text or cur_doc != doc_text:
            print(f'{out} is out of date: run python3 scripts/gen/gen-hf-families.py', file=sys.stderr)
            sys.exit(1)
        print('up to date')
        return
    open(out, 'w').write(text)
    open(doc_out, 'w').write(doc_text)
    print(f'wrote {out}: {len(rows)} model types; {doc_out}')


main()
