// The wasm module's entry points: the same walk (walk.cc) and cos/sin cache as the addon, over the
// SIMD128 kernels, without Node-API. lib/engine-wasm.ts checks every call (lib/validate.ts) and
// copies the rows into this module's memory before rope_apply, so the plan here is trusted; and
// whatever it says, a wasm module can only read and write its own memory.
//
// Exports (C names): rope_alloc(bytes) -> ptr | 0, rope_free(ptr), rope_new(headDim, rotaryDim,
// style, pairSection ptr | 0, sectionRows) -> handle | 0, rope_delete(handle),
// rope_apply(handle, desc ptr) -> 0 | error code, rope_apply_cache(handle, desc ptr) -> 0 | error
// code (the cache write of applyQK: k's rotation and v into compact cache rows, see below).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "../abi.h"
#include "../cossin_cache.h"
#include "../kernels/cache_kernels.h"
#include "../rope.h"
#include "../walk.h"

#define ROPE_EXPORT(name) extern "C" __attribute__((export_name(#name)))

namespace rope {

// native/kernels/wasm_simd128.cc (only this module has it: the addon's dispatch never sees it).
const KernelTable& wasmSimd128Kernels();
const CacheKernels& wasmSimd128CacheKernels();

namespace {

// desc: doubles, abi.h's first kLen slots (lib/abi.ts's DESC_LEN), then where the data sits in
// memory (lib/engine-wasm.ts's D_* slots; test/native/contracts.test.ts holds the two equal).
constexpr int kQPtr = abi::kLen, kKPtr = abi::kLen + 1, kPositionsPtr = abi::kLen + 2, kInvFreqPtr = abi::kLen + 3,
              kQLength = abi::kLen + 4, kKLength = abi::kLen + 5, kHasK = abi::kLen + 6;
// rope_apply_cache's: the cache rows' dtype and address (k's, v's or 0), v's rows (k's layout).
constexpr int kCacheDtype = abi::kLen + 7, kCacheKPtr = abi::kLen + 8, kCacheVPtr = abi::kLen + 9, kVPtr = abi::kLen + 10,
              kVDtype = abi::kLen + 11, kSlots = abi::kLen + 12;
static_assert(kVDtype < kSlots, "kSlots counts the descriptor's doubles");

struct WasmRope {
  Geometry geo;
  uint8_t* sections = nullptr;
  CosSinCache cache;
};

TensorRef tensor(const double* d, int at, double ptr, double length) {
  TensorRef t;
  t.data = reinterpret_cast<void*>(uintptr_t(ptr));
  t.length = int64_t(length);
  t.dtype = DType(int(d[at + abi::kDtype]));
  t.heads = int64_t(d[at + abi::kHeads]);
  t.offset = int64_t(d[at + abi::kOffset]);
  t.batchStride = int64_t(d[at + abi::kBatchStride]);
  t.tokenStride = int64_t(d[at + abi::kTokenStride]);
  t.headStride = int64_t(d[at + abi::kHeadStride]);
  return t;
}

bool validDType(const double* d, int at) {
  const double t = d[at + abi::kDtype];
  return t == kF32 || t == kF16 || t == kBF16;
}

// The cos/sin rows of a plan (as the binding: cached for one position per token, forward).
void useCache(CosSinCache& cache, Plan& p) {
  const int64_t half = p.geo.rotaryDim / 2;
  if (p.geo.pairSection == nullptr && !p.inverse) {
    const std::shared_ptr<CosSinTable>* table = cache.find(p.kernels, p.invFreq, half, p.attentionScaling);
    if (table == nullptr) table = &cache.insert(p.kernels, p.invFreq, half, p.attentionScaling);
    if (*table) {
      p.cache = table->get();
      p.invFreq = (*table)->invFreq();
    }
  }
}

}  // namespace
}  // namespace rope

using namespace rope;

ROPE_EXPORT(rope_alloc) void* ropeAlloc(uint32_t bytes) { return std::malloc(bytes == 0 ? 1 : bytes); }
ROPE_EXPORT(rope_free) void ropeFree(void* p) { std::free(p); }

ROPE_EXPORT(rope_new)
WasmRope* ropeNew(int32_t headDim, int32_t rotaryDim, int32_t style, const uint8_t* pairSection, int32_t sectionRows) {
  if (rotaryDim < 2 || rotaryDim % 2 != 0 || rotaryDim > headDim || rotaryDim / 2 > kMaxHalf) return nullptr;
  if (style != kHalf && style != kInterleaved) return nullptr;
  WasmRope* r = new (std::nothrow) WasmRope();
  if (r == nullptr) return nullptr;
  r->geo.headDim = headDim;
  r->geo.rotaryDim = rotaryDim;
  r->geo.style = Style(style);
  r->geo.sectionRows = sectionRows;
  if (pairSection != nullptr) {
    const int32_t half = rotaryDim / 2;
    r->sections = static_cast<uint8_t*>(std::malloc(size_t(half)));
    if (r->sections == nullptr) {
      delete r;
      return nullptr;
    }
    std::memcpy(r->sections, pairSection, size_t(half));
    r->geo.pairSection = r->sections;
  }
  return r;
}

ROPE_EXPORT(rope_delete) void ropeDelete(WasmRope* r) {
  if (r == nullptr) return;
  std::free(r->sections);
  delete r;
}

// 0: done. 1: a descriptor the facade would never send (nothing written).
ROPE_EXPORT(rope_apply) int32_t ropeApply(WasmRope* r, const double* d) {
  if (r == nullptr || !validDType(d, abi::kQ) || (d[kHasK] != 0 && !validDType(d, abi::kK))) return 1;
  Plan p;
  p.kernels = &wasmSimd128Kernels();
  p.geo = r->geo;
  p.batch = int64_t(d[abi::kBatch]);
  p.tokens = int64_t(d[abi::kTokens]);
  p.inverse = d[abi::kInverse] != 0;
  p.positionOffset = int64_t(d[abi::kPosOffset]);
  p.positionsBatchStride = int64_t(d[abi::kPosBatchStride]);
  p.positionsRowStride = int64_t(d[abi::kPosRowStride]);
  p.threads = 1;
  p.attentionScaling = d[abi::kAttentionScaling];
  p.q = tensor(d, abi::kQ, d[kQPtr], d[kQLength]);
  p.hasK = d[kHasK] != 0;
  if (p.hasK) p.k = tensor(d, abi::kK, d[kKPtr], d[kKLength]);
  p.positions = d[kPositionsPtr] != 0 ? reinterpret_cast<const int32_t*>(uintptr_t(d[kPositionsPtr])) : nullptr;
  p.invFreq = reinterpret_cast<const double*>(uintptr_t(d[kInvFreqPtr]));
  useCache(r->cache, p);
  walk(p);
  return 0;
}

// The cache write for `tokens` tokens of one batch row (lib/engine-wasm-cache.ts): k's rows (and
// v's, at kVPtr in k's layout) rotated and converted into compact cache rows [tokens, kHeads,
// headDim] of kCacheDtype at kCacheKPtr (kCacheVPtr: 0 for none): token t to row t, which the
// caller copies to the token's slot. No q (no heads). 0: done; 1: a bad descriptor.
ROPE_EXPORT(rope_apply_cache) int32_t ropeApplyCache(WasmRope* r, const double* d) {
  const bool hasV = d[kCacheVPtr] != 0;
  if (r == nullptr || !validDType(d, abi::kK) || !validDType(d, kCacheDtype) || (hasV && !validDType(d, kVDtype))) return 1;
  Plan p;
  p.kernels = &wasmSimd128Kernels();
  p.geo = r->geo;
  p.batch = 1;
  p.tokens = int64_t(d[abi::kTokens]);
  p.inverse = d[abi::kInverse] != 0;
  p.positionOffset = int64_t(d[abi::kPosOffset]);
  p.positionsRowStride = int64_t(d[abi::kPosRowStride]);
  p.threads = 1;
  p.attentionScaling = d[abi::kAttentionScaling];
  p.hasK = true;
  p.k = tensor(d, abi::kK, d[kKPtr], d[kKLength]);
  p.positions = d[kPositionsPtr] != 0 ? reinterpret_cast<const int32_t*>(uintptr_t(d[kPositionsPtr])) : nullptr;
  p.invFreq = reinterpret_cast<const double*>(uintptr_t(d[kInvFreqPtr]));
  CacheWrite c;
  c.kernels = &wasmSimd128CacheKernels();
  c.dtype = DType(int(d[kCacheDtype + abi::kDtype]));
  c.k = reinterpret_cast<void*>(uintptr_t(d[kCacheKPtr]));
  c.v = hasV ? reinterpret_cast<void*>(uintptr_t(d[kCacheVPtr])) : nullptr;
  c.length = p.tokens * p.k.heads * p.geo.headDim;
  c.vIn = p.k;
  if (hasV) {
    c.vIn.data = reinterpret_cast<void*>(uintptr_t(d[kVPtr]));
    c.vIn.dtype = DType(int(d[kVDtype + abi::kDtype]));
  }
  c.slotStride = p.k.heads * p.geo.headDim;
  c.headStride = p.geo.headDim;
  p.kv = &c;
  useCache(r->cache, p);
  walk(p);
  return 0;
}
