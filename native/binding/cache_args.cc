// applyCache's own arguments (after apply's five, checked by prepare): v, the cache arrays, slots
// and the cache descriptor (abi.h). Everything is re-checked here, never trusted from JS, before
// anything is written: dtypes and array kinds, v's bounds, the cache's whole rows, slots in range
// and distinct (copied first: shared memory can change under us), a cache sharing memory with
// q, k, v, positions or the other cache array, and q's rows meeting k's or v's (read whole while
// q is rotated in place).
#include "binding/cache_args.h"

#include <napi.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "abi.h"
#include "binding/args.h"
#include "bounds.h"
#include "kernels/cache_kernels.h"
#include "rope.h"

namespace rope {
namespace binding {
namespace {

// q's rows (headDim wide) against x's (read whole): none may share a byte.
ROPE_COLD void failReadOverlap(Napi::Env env, const char* name) {
  throwRange(env, std::string("q and ") + name + " overlap: with cache, " + name +
                      "'s rows (all headDim elements) are read while q's are rotated in place (views into one fused QKV buffer must not overlap)");
}

inline void checkReadDisjoint(Napi::Env env, const Plan& p, const TensorRef& x, const char* name) {
  const int64_t qs = dtypeSize(p.q.dtype), xs = dtypeSize(x.dtype);
  if (!bounds::spansMeet(p.q.data, p.q.length * qs, x.data, x.length * xs)) return;
  const uintptr_t qa = reinterpret_cast<uintptr_t>(p.q.data), xa = reinterpret_cast<uintptr_t>(x.data);
  const uintptr_t origin = qa < xa ? qa : xa;
  if (bounds::qkRowsOverlap(p.q, int64_t(qa - origin), x, int64_t(xa - origin), p.batch, p.tokens, p.geo.headDim))
    failReadOverlap(env, name);
}

}  // namespace

void cacheArgs(const Napi::CallbackInfo& info, const Plan& p, CacheWrite* out, std::vector<int32_t>* slotsCopy) {
  Napi::Env env = info.Env();
  if (info.Length() < 10)
    throwType(env, "applyCache(q, k, positions, invFreq, desc, v, kCache, vCache, slots, cdesc): expected 10 arguments, got " +
                       std::to_string(info.Length()));
  if (!p.hasK) throwType(env, "applyCache: k is required (its rotation is what the cache holds)");
  if (p.batch != 1) throwRange(env, "applyCache: batch " + std::to_string(p.batch) + " is not 1 (call once per batch row)");
  const View dv = typedArg(env, info[9], "cdesc", napi_float64_array);
  if (dv.length < abi::kCacheLen)
    throwRange(env, "cdesc.length " + std::to_string(dv.length) + " is less than " + std::to_string(int(abi::kCacheLen)));
  double cd[abi::kCacheLen];
  std::memcpy(cd, dv.data, sizeof cd);  // copied first: a SharedArrayBuffer-backed one could change
  CacheWrite& c = *out;
  c.kernels = &cacheKernelsFor(*p.kernels);
  c.dtype = DType(intIn(env, cd[abi::kCacheDtype], "cache dtype (cdesc)", "", 0, 2));
  const bool hnd = intIn(env, cd[abi::kCacheLayout], "cache layout (cdesc)", "", 0, 1) == 1;
  const double start = cd[abi::kCacheSlotStart];
  const bool run = start != -1;
  if (run) c.slotStart = intIn(env, start, "slot start (cdesc)", "", 0, kMaxSafe);
  const bool hasV = intIn(env, cd[abi::kCacheHasV], "hasV (cdesc)", "", 0, 1) == 1;
  const int64_t headDim = p.geo.headDim;

  const View kc = typedArg(env, info[6], "cache.k", arrayTypeFor(c.dtype), c.dtype);
  c.k = kc.data;
  c.length = kc.length;
  const int64_t row = p.k.heads * headDim;  // (k's heads and headDim were bounded by prepare)
  if (c.length == 0 || c.length % row != 0)
    throwRange(env, "cache.k.length " + std::to_string(c.length) + " is not a positive multiple of kHeads*headDim = " + std::to_string(row));
  const int64_t slotCount = c.length / row;
  if (hasV) {
    c.vIn = tensorArg(env, info[5], arrayInfo(env, info[5]), cd, abi::kCacheV, "v", p.batch, p.tokens, headDim, p.geo.rotaryDim);
    if (c.vIn.heads != p.k.heads)
      throwRange(env, "v heads " + std::to_string(c.vIn.heads) + " differ from k's " + std::to_string(p.k.heads));
    const View vc = typedArg(env, info[7], "cache.v", arrayTypeFor(c.dtype), c.dtype);
    if (vc.length != c.length)
      throwRange(env, "cache.v.length " + std::to_string(vc.length) + " differs from cache.k.length " + std::to_string(c.length));
    c.v = vc.data;
  } else if (!isNullish(env, info[5]) || !isNullish(env, info[7])) {
    throwType(env, "applyCache: v and cache.v are passed only with hasV (cdesc)");
  }
  c.slotStride = hnd ? headDim : row;
  c.headStride = hnd ? slotCount * headDim : headDim;

  // Slots: a run that fits, or one per token in [-1, slotCount), no slot twice.
  if (run) {
    if (!isNullish(env, info[8])) throwType(env, "applyCache: slots must be null with a slot start (cdesc)");
    if (c.slotStart > slotCount - p.tokens)
      throwRange(env, "cache slots " + std::to_string(c.slotStart) + ".." + std::to_string(c.slotStart + p.tokens - 1) +
                          " do not fit the cache's " + std::to_string(slotCount) + " slots");
    c.slots = nullptr;
  } else {
    const View sv = typedArg(env, info[8], "slots", napi_int32_array);
    if (sv.length != p.tokens)
      throwRange(env, "slots.length " + std::to_string(sv.length) + " is not tokens " + std::to_string(p.tokens));
    try {
      slotsCopy->assign(static_cast<const int32_t*>(sv.data), static_cast<const int32_t*>(sv.data) + sv.length);
    } catch (const std::bad_alloc&) {
      throw Napi::Error::New(env, "applyCache: out of memory for a copy of slots");
    }
    std::vector<int32_t>& s = *slotsCopy;
    for (int64_t t = 0; t < p.tokens; t++)
      if (s[size_t(t)] < -1 || s[size_t(t)] >= slotCount)
        throwRange(env, "slots[" + std::to_string(t) + "] = " + std::to_string(s[size_t(t)]) + " is not in [-1, " +
                            std::to_string(slotCount) + ")");
    // Distinct slots: tokens on different threads then write different rows.
    std::vector<int32_t> sorted;
    try {
      sorted = s;
    } catch (const std::bad_alloc&) {
      throw Napi::Error::New(env, "applyCache: out of memory for a copy of slots");
    }
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 1; i < sorted.size(); i++)
      if (sorted[i] >= 0 && sorted[i] == sorted[i - 1])
        throwRange(env, "slot " + std::to_string(sorted[i]) + " appears twice in slots: each slot takes at most one token");
    c.slots = s.data();
  }

  // Memory: the cache arrays are written; q's rows are written; k, v, positions are read.
  const int64_t cb = c.length * dtypeSize(c.dtype);
  struct Span {
    const void* at;
    int64_t bytes;
    const char* name;
  };
  Span others[4] = {{p.q.data, p.q.length * dtypeSize(p.q.dtype), "q"},
                    {p.k.data, p.k.length * dtypeSize(p.k.dtype), "k"},
                    {hasV ? c.vIn.data : nullptr, hasV ? c.vIn.length * dtypeSize(c.vIn.dtype) : 0, "v"},
                    {nullptr, 0, "positions"}};
  if (p.positions != nullptr) {  // (the caller's array: p.positions may be prepare's copy)
    const ArrayInfo pa = arrayInfo(env, info[2]);
    others[3] = {pa.data, pa.typed ? int64_t(pa.length) * 4 : 0, "positions"};
  }
  for (const Span& o : others) {
    if (bounds::spansMeet(c.k, cb, o.at, o.bytes)) throwRange(env, std::string("cache.k shares memory with ") + o.name + ": the cache must be separate from q, k, v and positions");
    if (c.v != nullptr && bounds::spansMeet(c.v, cb, o.at, o.bytes))
      throwRange(env, std::string("cache.v shares memory with ") + o.name + ": the cache must be separate from q, k, v and positions");
  }
  if (c.v != nullptr && bounds::spansMeet(c.k, cb, c.v, cb)) throwRange(env, "cache.k and cache.v share memory: they must be separate arrays");
  checkReadDisjoint(env, p, p.k, "k");
  if (hasV) checkReadDisjoint(env, p, c.vIn, "v");
}

}  // namespace binding
}  // namespace rope
