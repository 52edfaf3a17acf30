// One walk for every ISA and dtype: per token, the positions of its pairs (M-RoPE aware), ONE
// cos/sin row (from the Rope's cache when it has it), then every head of q and k rotated by the
// active ISA's rows kernel (cos/sin held in registers across a token's heads where they fit).
#include "walk.h"

#include <cstdint>

#include "cache_write.h"
#include "cossin_cache.h"

namespace rope {
namespace {

// Per-call scratch on the stack (64 KiB at kMaxHalf): no allocation, no sharing between threads.
struct Scratch {
  alignas(64) float cos[kMaxHalf];
  alignas(64) float sin[kMaxHalf];
  alignas(64) double pos[kMaxHalf];
};

// Positions of token t of batch row b, one per pair (double: the angle is formed in float64).
inline void pairPositions(const Plan& p, int64_t b, int64_t t, int64_t half, double* pos) {
  if (p.positions == nullptr) {
    const double v = double(p.positionOffset + t);
    for (int64_t j = 0; j < half; j++) pos[j] = v;
    return;
  }
  const int32_t* row0 = p.positions + b * p.positionsBatchStride + t;
  if (p.geo.pairSection == nullptr) {
    const double v = double(*row0);
    for (int64_t j = 0; j < half; j++) pos[j] = v;
    return;
  }
  // M-RoPE: pair j reads positions row pairSection[j] (temporal / height / width ...).
  for (int64_t j = 0; j < half; j++) pos[j] = double(row0[int64_t(p.geo.pairSection[j]) * p.positionsRowStride]);
}

// The one position of every pair of (b, t) (a cacheable plan has no pairSection).
inline int64_t tokenPosition(const Plan& p, int64_t b, int64_t t) {
  return p.positions == nullptr ? p.positionOffset + t : int64_t(p.positions[b * p.positionsBatchStride + t]);
}

inline void rotateHeads(const TensorRef& x, RowsKernel kernel, int64_t b, int64_t t, const float* cos,
                        const float* sin, int64_t half, int64_t rowBlock) {
  const int64_t size = dtypeSize(x.dtype);
  const int64_t first = x.offset + b * x.batchStride + t * x.tokenStride;
  kernel(static_cast<char*>(x.data) + first * size, x.headStride * size, x.heads, cos, sin, half, rowBlock);
}

// How many of a token's heads the rows kernel finishes before it moves on (kernels.h, rowBlock),
// by the call's size. Whole sweeps (every group of pairs over all heads, cos/sin in registers)
// are best for rows in cache; rows that come from memory want each row finished soon after it
// arrives. Measured on one thread (2-core Zen 3, f32, 32 + 8 heads of 128, fraction of the limit
// pass on the same bytes, a C++ harness calling walk() with the rows evicted or not):
//   512 tokens (10 MiB) evicted: whole sweeps 0.51-0.64, blocks of 8 0.65-0.70, of 2 0.61-0.78
//   512 tokens in cache:         whole sweeps 0.75-0.84, blocks of 8 0.76-0.84, of 2 0.66-0.76
//   past 32 MiB (from memory): blocks of 2 (S4 0.61 -> 0.85 against whole sweeps)
// Up to 1 MiB (decode, small batches: rows in L1/L2) whole sweeps (blocks there cost 0.77 -> 0.58).
constexpr int64_t kInCacheBytes = int64_t(1) << 20;
constexpr int64_t kStreamBytes = int64_t(32) << 20;
constexpr int64_t kMidRowBlock = 8;
constexpr int64_t kStreamRowBlock = 2;
constexpr int64_t kChunkTokens = 16;  // walkRange: q then k per chunk (16, 64, 256 measured alike)

inline int64_t rowBlockFor(const Plan& p) {
  const double row = double(p.q.heads) * double(dtypeSize(p.q.dtype)) + (p.hasK ? double(p.k.heads) * double(dtypeSize(p.k.dtype)) : 0.0);
  const double bytes = row * double(p.batch) * double(p.tokens) * double(p.geo.rotaryDim);
  return bytes > double(kStreamBytes) ? kStreamRowBlock : bytes > double(kInCacheBytes) ? kMidRowBlock : INT64_MAX;
}

}  // namespace

void walkRange(const Plan& p, int64_t tokenBegin, int64_t tokenEnd) {
  Scratch s;
  const KernelTable& kt = *p.kernels;
  const int64_t half = p.geo.rotaryDim / 2;
  const double scale = p.attentionScaling;
  // The inverse rotation is the same rotation with -sin (R(-a) = R(a)^T).
  const double sinScale = p.inverse ? -scale : scale;
  const RowsKernel qKernel = kt.rotateRows[p.geo.style][p.q.dtype];
  // (with a cache write k is only read: its rotation goes to the cache, cache_write.h)
  const RowsKernel kKernel = p.hasK && p.kv == nullptr ? kt.rotateRows[p.geo.style][p.k.dtype] : nullptr;
  // Positions the same for every batch row: one cos/sin row per token serves them all.
  const bool shared = p.positions == nullptr || p.positionsBatchStride == 0 || p.batch == 1;
  CosSinTable* const cache = p.cache;
  const int64_t rowBlock = rowBlockFor(p);
  const float* cos = s.cos;
  const float* sin = s.sin;
  // The cos/sin row of (b, t): the cache's, or computed into the scratch row.
  auto rowOf = [&](int64_t b, int64_t t) {
    const float* row = cache != nullptr ? cache->row(tokenPosition(p, b, t)) : nullptr;
    if (row != nullptr) {
      cos = row;
      sin = row + half;
    } else {
      pairPositions(p, b, t, half, s.pos);
      kt.cosSin(s.pos, p.invFreq, half, scale, sinScale, s.cos, s.sin);
      cos = s.cos;
      sin = s.sin;
    }
  };

  // Tokens in chunks: q's rows, then the same tokens' second rows (k's, or their cache rows), with
  // each token's cos/sin row read again from the table the first pass filled (chunk 1 when there is
  // none: the row at hand is the token's). Each array is then read as one long stream.
  auto chunked = [&](int64_t chunk, auto&& second) {
    for (int64_t t0 = tokenBegin; t0 < tokenEnd; t0 += chunk) {
      const int64_t t1 = tokenEnd - t0 < chunk ? tokenEnd : t0 + chunk;
      for (int64_t t = t0; t < t1; t++)
        for (int64_t b = 0; b < p.batch; b++) {
          if (b == 0 || !shared) rowOf(b, t);
          rotateHeads(p.q, qKernel, b, t, cos, sin, half, rowBlock);
        }
      for (int64_t t = t0; t < t1; t++)
        for (int64_t b = 0; b < p.batch; b++) {
          if ((chunk > 1 || p.batch > 1) && (b == 0 || !shared)) rowOf(b, t);
          second(b, t);
        }
    }
  };

  // Calls that stream from memory, with k and a cos/sin table, q and k each dense per token (not
  // one fused QKV buffer, where token order already reads one stream): alternating q and k every
  // token cost the rotation a third against the limit pass (docs/maintainers/benchmark.md, f32 S4).
  auto dense = [](const TensorRef& x) { return x.tokenStride == x.heads * x.headStride; };
  if (rowBlock == kStreamRowBlock && kKernel != nullptr && cache != nullptr && dense(p.q) && dense(p.k)) {
    chunked(kChunkTokens, [&](int64_t b, int64_t t) { rotateHeads(p.k, kKernel, b, t, cos, sin, half, rowBlock); });
    return;
  }

  // A cache write past L2 (cacheStreams): its rows go by non-temporal stores, so they neither pay
  // a read for ownership nor push q, k and v out of the cache (docs/guide/kv-cache.md, S3).
  if (p.kv != nullptr && p.batch == 1 && cacheStreams(p)) {
    CacheStream stream(p.kv->kernels->stream);
    chunked(cache != nullptr ? kChunkTokens : 1, [&](int64_t, int64_t t) { writeCacheRows(p, t, cos, sin, half, &stream); });
    stream.flush();
    p.kv->kernels->fence();  // this thread's streamed rows, before its part of the call is done
    return;
  }

  for (int64_t t = tokenBegin; t < tokenEnd; t++) {
    for (int64_t b = 0; b < p.batch; b++) {
      if (b == 0 || !shared) rowOf(b, t);
      rotateHeads(p.q, qKernel, b, t, cos, sin, half, rowBlock);
      if (kKernel != nullptr) rotateHeads(p.k, kKernel, b, t, cos, sin, half, rowBlock);
      else if (p.kv != nullptr) writeCacheRows(p, t, cos, sin, half);
    }
  }
}

void walk(const Plan& p) { walkRange(p, 0, p.tokens); }

// The bench's yardstick, the same for every dtype: f32's pass (x * factor, vectors aligned, in
// place) over the array's bytes. 16-bit data goes through it as f32 words (pairs of elements; an
// odd last one through its own dtype's pass), so a 16-bit rotation is measured against what moving
// its bytes costs, not against a 16-bit pass that converts and rounds every element (on AVX2 the
// bf16 pass ran at ~0.2 ns/element, as slow as the rotation's arithmetic). With the bench's factor
// 1 every word keeps its bits unless it is a NaN pattern (never, for data in [-1, 1]).
void limitPass(const KernelTable& kernels, void* data, int64_t n, DType dtype, float factor) {
  if (n <= 0) return;
  if (dtype == kF32 || n < 2 || reinterpret_cast<uintptr_t>(data) % 4 != 0) {
    kernels.scale[dtype](data, n, factor);
    return;
  }
  kernels.scale[kF32](data, n / 2, factor);
  if (n % 2 != 0) kernels.scale[dtype](static_cast<char*>(data) + (n - 1) * 2, 1, factor);
}

}  // namespace rope
