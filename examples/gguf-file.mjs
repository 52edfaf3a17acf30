// From a .gguf file to the Rope of each layer, the way llama.cpp reads it.
//   node examples/gguf-file.mjs model.gguf
import { open } from 'node:fs/promises';
import { gguf } from '@huggingface/gguf'; // npm install @huggingface/gguf
import { Rope } from 'rope-simd';

export async function ropeFromGGUFFile(path) {
  // Parses the header only (metadata and tensor infos), not the weights.
  const { metadata, tensorInfos, tensorDataOffset } = await gguf(path, { allowLocalFile: true });

  // llama.cpp keeps Llama 3.1 scaling in rope_freqs and LongRoPE factors in rope_factors_*: read
  // those few float32 values from the file.
  const file = await open(path);
  const f32 = async (name) => {
    const t = tensorInfos.find((t) => t.name === name);
    if (t === undefined) return undefined;
    if (t.dtype !== 0) throw new Error(`${name}: expected an F32 tensor, got GGML type ${t.dtype}`);
    const n = Number(t.shape.reduce((a, b) => a * b, 1n));
    const buf = Buffer.alloc(4 * n);
    await file.read(buf, 0, buf.length, Number(tensorDataOffset + t.offset));
    return Array.from(new Float32Array(buf.buffer, buf.byteOffset, n));
  };
  const tensors = {
    ropeFreqs: await f32('rope_freqs.weight'),
    ropeFactorsShort: await f32('rope_factors_short.weight'),
    ropeFactorsLong: await f32('rope_factors_long.weight'),
  };
  await file.close();
  for (const k of Object.keys(tensors)) if (tensors[k] === undefined) delete tensors[k];

  return {
    rope: Rope.fromGGUF(metadata, tensors), // the full-attention layers' Rope
    layers: Rope.layersFromGGUF(metadata, tensors), // per block: its Rope, or null (no rotation)
  };
}

if (process.argv[2]) {
  const { rope, layers } = await ropeFromGGUFFile(process.argv[2]);
  console.log(rope.style, rope.headDim, rope.rotaryDim); // e.g. 'interleaved' 128 128 for Llama
  // one line per distinct Rope: the layers that use it (null: llama.cpp does not rotate there)
  for (const r of new Set(layers)) {
    const at = layers.flatMap((l, i) => (l === r ? [i] : []));
    console.log(r === null ? 'no rotation' : `invFreq[1] ${r.invFreq[1].toPrecision(6)}`, 'layers', at.join(','));
  }
}
