// GGUF metadata -> one RopeOptions (or null) per block, as llama.cpp reads it per layer. The facts
// per architecture (which layers slide, their rope base/scale/dims, NoPE steps, attention-free
// layers) come from the generated table (gguf-arches.ts, from each load_arch_hparams); the key
// reading below mirrors llama.cpp's (src/llama-model.cpp load_hparams, src/llama-hparams.cpp).
import type { RopeOptions } from '../types.js';
import { show } from '../scaling.js';
import { optNum, toNum } from './read.js';
import { archOf, entryOf, ggufGet, ropeOptionsFromGGUF, type GgufRopeTensors } from './gguf.js';
import type { GgufWhen } from './gguf-arch-types.js';

/** llama_hparams::set_swa_pattern: period 0 = every layer; else the last of each period (or, dense first, the first) is full. */
function swaPattern(n: number, period: number, denseFirst: boolean): boolean[] {
  return Array.from({ length: n }, (_, il) => period === 0 || (denseFirst ? il % period !== 0 : il % period < period - 1));
}

/** Per-layer bools or numbers: get_key_or_arr (an array of exactly n, or one value for all). */
function perLayer(key: string, v: unknown, n: number): number[] {
  if (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const list = Array.from(v as ArrayLike<unknown>, (x, i) => (typeof x === 'boolean' ? Number(x) : toNum(`${key}[${i}]`, x)));
    if (list.length !== n) throw new RangeError(`${key} must have one entry per block (${n}), got ${list.length}`);
    return list;
  }
  const one = typeof v === 'boolean' ? Number(v) : toNum(key, v);
  return new Array<number>(n).fill(one);
}

/**
 * One entry per block ({arch}.block_count): the RopeOptions that layer's attention rotates with,
 * or null where llama.cpp applies no rotation there (NoPE layers, layers without attention).
 */
export function ropeLayersFromGGUF(metadata: object, tensors: GgufRopeTensors = {}): (RopeOptions | null)[] {
  const full = ropeOptionsFromGGUF(metadata, tensors); // checks metadata, architecture, rope type
  const { meta, arch } = archOf(metadata);
  const e = entryOf(arch);
  const key = (name: string) => `${arch}.${name}`;
  const raw = (name: string) => ggufGet(meta, key(name));
  const num = (name: string) => optNum(key(name), raw(name));
  const n = num('block_count');
  if (n === undefined || !Number.isSafeInteger(n) || n < 1 || n > 1 << 16) {
    throw new TypeError(`${key('block_count')} must be a positive integer up to 65536 (the number of layers), got ${show(raw('block_count'))}`);
  }
  if (e.unread !== undefined) {
    throw new TypeError(
      `general.architecture '${arch}': its per-layer RoPE is set in code rope-simd does not read (${e.file}: ${e.unread}); ` +
        'use Rope.fromGGUF for the full-attention layers',
    );
  }
  // hparams.n_layer() = n_layer_all - n_layer_nextn: MTP blocks at the end are never sliding or
  // recurrent (set_swa_pattern and the recurrent loops stop at n_layer()).
  const nextn = e.nextn !== undefined ? (num('nextn_predict_layers') ?? 0) : 0;
  if (!Number.isSafeInteger(nextn) || nextn < 0 || nextn >= n) {
    throw new TypeError(`${key('nextn_predict_layers')} must be an integer in [0, block_count), got ${nextn}`);
  }
  const nMain = n - nextn;
  const nSwa = e.nextn?.swa ? nMain : n; // n_layer() when the loop runs
  const nRecr = e.nextn?.recurrent ? nMain : n;
  const sw = num('attention.sliding_window');
  const holds = (w: GgufWhen | undefined): boolean => {
    switch (w) {
      case undefined:
      case 'always':
        return true;
      case 'sliding_window>0':
        return sw !== undefined && sw > 0;
      case 'sliding_window<=0':
        return !(sw !== undefined && sw > 0);
      case 'sliding_window==0':
        return sw === 0;
      case 'sliding_window!=0':
        return sw !== 0;
      default:
        return n === Number(w.slice('block_count=='.length));
    }
  };

  // Sliding-window layers (is_swa): from attention.sliding_window_pattern as the architecture reads it.
  let isSwa: boolean[] = new Array<boolean>(n).fill(false);
  const swa = e.swa;
  if (swa !== undefined && holds(swa.when)) {
    const pat = raw('attention.sliding_window_pattern');
    const isArr = Array.isArray(pat) || ArrayBuffer.isView(pat);
    if (pat !== undefined && swa.arrayKey && (isArr || !swa.periodKey)) {
      // read with n = n_layer(), which excludes MTP blocks once nextn_predict_layers is read
      const len = nSwa;
      isSwa = perLayer(key('attention.sliding_window_pattern'), pat, len).map((x) => x !== 0);
      while (isSwa.length < n) isSwa.push(false);
    } else if (pat === undefined && swa.required) {
      throw new TypeError(`${key('attention.sliding_window_pattern')} is required for architecture '${arch}' (llama.cpp reads it per layer), got undefined`);
    } else {
      // A scalar is the period; llama.cpp's scalar read returns false on an array, leaving the default.
      const period = pat !== undefined && !isArr && swa.periodKey ? toNum(key('attention.sliding_window_pattern'), pat) : swa.period;
      if (period === undefined || !Number.isSafeInteger(period) || period < 0) {
        throw new TypeError(`${key('attention.sliding_window_pattern')} must be a non-negative integer period, got ${show(pat)}`);
      }
      isSwa = swaPattern(nSwa, period, swa.denseFirst === true).concat(new Array<boolean>(n - nSwa).fill(false));
    }
  }

  // The SWA layers' rope: llama_model::get_rope_freq_base/scale(il) and hparams.n_rot(il).
  let swaOpts: RopeOptions = full;
  if (swa !== undefined && isSwa.some((x) => x)) {
    swaOpts = { ...full };
    if (swa.perLayerBase) {
      const b = swa.baseKey ? num('rope.freq_base_swa') : undefined;
      swaOpts.base = b ?? (swa.baseInherit ? full.base : 10000); // llama-hparams.h: rope_freq_base_train_swa = 10000
      // rope_freq_scale_train_swa stays 1 unless inherited; rope_freqs (freq factors) are no freq_scale
      const isFactors = full.scaling?.type === 'freqFactors';
      if (isFactors ? !swa.factors : !swa.scaleInherit) delete swaOpts.scaling;
    } else if (full.scaling?.type === 'freqFactors' && !swa.factors) delete swaOpts.scaling;
    if (swa.perLayerRot) {
      swaOpts.headDim = num('attention.key_length_swa') ?? full.headDim;
      swaOpts.rotaryDim = num('rope.dimension_count_swa') ?? full.rotaryDim;
    }
  }

  if (swaOpts !== full && JSON.stringify(swaOpts) === JSON.stringify(full)) swaOpts = full; // one Rope for equal settings

  // NoPE layers: the graph's use_rope (llama4/afmoe/smollm3: (il + 1) % step != 0; smallthinker:
  // step == n_layer || il % step != 0).
  const rope: boolean[] = new Array<boolean>(n).fill(true);
  if (e.noRope !== undefined) {
    const step = e.noRope.blockCountWhen !== undefined && holds(e.noRope.blockCountWhen) ? n : e.noRope.step;
    for (let il = 0; il < n; il++) {
      rope[il] = e.noRope.form === 'il+1' ? step > 0 && (il + 1) % step !== 0 : step === n || il % step !== 0;
    }
  }

  // Layers without attention (hybrid models): recurrent where head_count_kv is 0, or from
  // attention.recurrent_layers / full_attention_interval (qwen3next, qwen35).
  const noAttn = e.noAttention;
  if (noAttn?.headCountKvZero) {
    const kv = raw('attention.head_count_kv') ?? raw('attention.head_count');
    if (kv !== undefined) perLayer(key('attention.head_count_kv'), kv, n).forEach((h, il) => h === 0 && (rope[il] = false));
  } else if (noAttn?.recurrentLayersKey) {
    const rec = raw('attention.recurrent_layers');
    if (rec !== undefined) perLayer(key('attention.recurrent_layers'), rec, n).forEach((r, il) => r !== 0 && (rope[il] = false));
    else {
      const interval = num('full_attention_interval') ?? noAttn.fullAttentionInterval ?? 4;
      if (!Number.isSafeInteger(interval) || interval < 1) throw new TypeError(`${key('full_attention_interval')} must be a positive integer, got ${interval}`);
      for (let il = 0; il < nRecr; il++) if ((il + 1) % interval !== 0) rope[il] = false;
    }
  }
  return Array.from({ length: n }, (_, il) => (rope[il] ? (isSwa[il] ? swaOpts : full) : null));
}

