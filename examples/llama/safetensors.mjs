// A safetensors reader (https://huggingface.co/docs/safetensors): the npm registry has no
// maintained safetensors package (the `safetensors` name holds one 0.0.1 release), and the format
// is small enough to read here:
//   bytes 0..7      N, the header's length, unsigned 64-bit little-endian
//   bytes 8..8+N    a JSON object: { name: { dtype, shape, data_offsets: [begin, end] }, ...,
//                   "__metadata__": { string: string } (optional) }
//   bytes 8+N..     the tensors' raw little-endian data; data_offsets count from here, end exclusive
// Tensors are row-major (C order). Sharded checkpoints add model.safetensors.index.json, whose
// weight_map names each tensor's file.
import { existsSync, readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';

const ITEM_BYTES = { F32: 4, BF16: 2, F16: 2 };

/** IEEE half bits -> number. */
function f16ToNumber(h) {
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}

/** One tensor's bytes as a Float32Array (bf16 and f16 widened exactly; f32 viewed when aligned). */
function toFloat32(name, dtype, bytes) {
  if (dtype === 'F32') {
    if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    return new Float32Array(new Uint8Array(bytes).buffer); // a copy: the header left the data unaligned
  }
  const u16 = new Uint16Array(new Uint8Array(bytes).buffer); // (a Buffer's slice() would not copy)
  const out = new Float32Array(u16.length);
  if (dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < u16.length; i++) bits[i] = u16[i] << 16; // bf16 is f32's top half
  } else {
    for (let i = 0; i < u16.length; i++) out[i] = f16ToNumber(u16[i]);
  }
  return out;
}

/** Reads one .safetensors file into Map<name, { shape, data: Float32Array }>. */
export function readSafetensors(file) {
  if (endianness() !== 'LE') throw new Error('this reader assumes a little-endian host, like the format');
  const buf = readFileSync(file);
  if (buf.length < 8) throw new Error(`${file}: ${buf.length} bytes, too short for a safetensors header`);
  const n = buf.readBigUInt64LE(0);
  if (n > BigInt(buf.length - 8)) throw new Error(`${file}: header length ${n} runs past the file's ${buf.length} bytes`);
  const header = JSON.parse(buf.toString('utf8', 8, 8 + Number(n)));
  const dataStart = 8 + Number(n);
  const tensors = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: [begin, end] } = info;
    if (!(dtype in ITEM_BYTES)) throw new Error(`${file}: tensor ${name} has dtype ${dtype}; this example reads F32, BF16, F16`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * ITEM_BYTES[dtype] || dataStart + end > buf.length) {
      throw new Error(`${file}: tensor ${name} (${dtype} ${JSON.stringify(shape)}) has data_offsets [${begin}, ${end}] that do not fit it`);
    }
    tensors.set(name, { shape, data: toFloat32(name, dtype, buf.subarray(dataStart + begin, dataStart + end)) });
  }
  return tensors;
}

/** All tensors of a model folder: model.safetensors, or the shards its index names. */
export function readModelTensors(dir) {
  const index = join(dir, 'model.safetensors.index.json');
  if (!existsSync(index)) return readSafetensors(join(dir, 'model.safetensors'));
  const files = new Set(Object.values(JSON.parse(readFileSync(index, 'utf8')).weight_map));
  const all = new Map();
  for (const f of files) for (const [k, v] of readSafetensors(join(dir, f))) all.set(k, v);
  return all;
}
