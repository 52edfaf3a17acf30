#!/usr/bin/env python3
"""Writes lib/models/hf-families.ts: for every model_type whose transformers modeling code applies rotary
embeddings, the pair style that code uses. Reads the installed transformers' own source:
apply_rotary_pos_emb (and the rotary module feeding it) decides the style:
  - rotate_half with cat((freqs, freqs)) cos/sin -> 'half' (pairs j, j + rotaryDim/2)
  - rotate_every_two / repeat_interleave(2) of cos,sin / view_as_complex of (2j, 2j+1) -> 'interleaved'
The vectors of scripts/gen-model-vectors.py then check the style numerically per family.
Usage: python3 scripts/gen-hf-families.py [--check]"""
import ast, os, re, sys, inspect
import transformers
from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

ROOT = os.path.dirname(transformers.__file__)
OUT = os.path.join(os.path.dirname(__file__), '..', 'lib', 'models', 'hf-families.ts')


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


def classify(src):
    """(style, evidence) from the modeling source, or None when the file applies no RoPE."""
    apply = (func_src(src, 'apply_rotary_pos_emb') or func_src(src, 'apply_rotary_emb')
             or func_src(src, 'apply_rotary_position_embeddings'))
    if 'rope_interleave' in src:
        # DeepSeek-V3 and kin: config.rope_interleave picks apply_rotary_pos_emb_interleave (adjacent
        # pairs, written back in rotate_half slots) over apply_rotary_pos_emb.
        return 'half', 'rotate_half; config.rope_interleave -> apply_rotary_pos_emb_interleave', 'rope_interleave'
    if apply is None and func_src(src, 'apply_rotary_pos_emb_interleave'):
        return 'interleaved', 'apply_rotary_pos_emb_interleave (adjacent pairs)', None
    rotary = '\n'.join(classes_src(src, 'RotaryEmbedding'))
    if apply is None and not rotary:
        return None
    body = (apply or '') + '\n' + rotary
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
    if re.search(r'if self\.sliding_window is not None:\s*\n\s*query_states, key_states = apply_rotary', src):
        rules['ropeOnlySliding'] = 'always'  # Cohere2
    elif re.search(r'if self\.sliding_window is None or self\.is_sliding:', src):
        rules['ropeOnlySliding'] = 'ifAnySliding'  # EXAONE 4
    return rules


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


def main():
    rows = {}
    by_module = {}
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
                res = (r[0], r[1], f'models/{mod}/{f}', r[2], {**layer_rules(src), **mrope_rules(src)}, default_theta(model_type))
                break
        if res is not None:
            rows[model_type] = res
    if '--print' in sys.argv:
        for k, v in sorted(rows.items()):
            print(k, v)
        return
    lines = [
        '// GENERATED by scripts/gen-hf-families.py from transformers ' + transformers.__version__ + ' (its modeling_*.py:',
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
        '  mropeInterleaved?: boolean;',
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
            extra += ', mropeInterleaved: ' + ('true' if rules['mropeInterleaved'] else 'false')
        if rules.get('ropeOnlySliding'):
            extra += ", ropeOnlySliding: '" + rules['ropeOnlySliding'] + "'"
        lines.append(f"  '{k}': {{ style: '{style}'{extra}, from: '{f}: {why}' }},")
    lines.append('};')
    text = '\n'.join(lines) + '\n'
    out = os.path.normpath(OUT)
    if '--check' in sys.argv:
        cur = open(out).read() if os.path.exists(out) else ''
        if cur != text:
            print(f'{out} is out of date: run python3 scripts/gen-hf-families.py', file=sys.stderr)
            sys.exit(1)
        print('up to date')
        return
    open(out, 'w').write(text)
    print(f'wrote {out}: {len(rows)} model types')


main()
