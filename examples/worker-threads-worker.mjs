// One half of examples/worker-threads.mjs: views of the shared q and k covering tokens
// [tokenBegin, tokenEnd), rotated at positions start + tokenBegin onwards.
import { parentPort, workerData } from 'node:worker_threads';
import { Rope } from 'rope-simd';

const { config, tokenBegin, tokenEnd } = workerData;
const { headDim, qHeads, kHeads } = config;
const view = (buffer, heads) =>
  new Float32Array(buffer, tokenBegin * heads * headDim * 4, (tokenEnd - tokenBegin) * heads * headDim);

const rope = new Rope({ headDim, base: config.base });
// applyQKAsync keeps this worker's event loop free too; threads: 1 because the two workers
// already use the machine's two cores.
await rope.applyQKAsync(view(workerData.q, qHeads), view(workerData.k, kHeads), {
  qHeads,
  kHeads,
  positions: config.start + tokenBegin,
  threads: 1,
});
parentPort.postMessage('done');
