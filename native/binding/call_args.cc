// apply's and applyAsync's argument checks (call_args.h): the descriptor, q and k with their
// bounds and overlap, positions, invFreq and the cos/sin table the walk reads.
#include "binding/call_args.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "abi.h"
#include "binding/args.h"
#include "binding/async.h"
#include "bounds.h"
#include "dispatch.h"

namespace rope {
namespace binding {
namespace {

void checkQKDisjoint(Napi::Env env, const Plan& p) {
  const int64_t qs = dtypeSize(p.q.dtype), ks = dtypeSize(p.k.dtype);
  const uintptr_t qa = reinterpret_cast<uintptr_t>(p.q.data), ka = reinterpret_cast<uintptr_t>(p.k.data);
  const uintptr_t origin = qa < ka ? qa : ka;
  const int64_t qo = int64_t(qa - origin), ko = int64_t(ka - origin);
  // Byte spans of the whole arrays first: separate memory needs no row-by-row proof.
  if (qo + p.q.length * qs <= ko || ko + p.k.length * ks <= qo) return;
  // The facade's own messages (lib/validate.ts): with the native engine this is the only check.
  if (ROPE_UNLIKELY(bounds::qkRowsOverlap(p.q, qo, p.k, ko, p.batch, p.tokens, p.geo.rotaryDim))) {
    if (qa == ka)
      throwRange(env, "q and k are the same array: each row would be rotated twice (q and k overlap)");
    throwRange(env,
               "q and k overlap: some rotated row of q shares elements with one of k (views into one fused QKV "
               "buffer must not overlap)");
  }
}

void checkPositions(Napi::Env env, napi_value arr, const double* desc, const CallContext& ctx, Plan* p) {
  p->positionOffset = intIn(env, desc[abi::kPosOffset], "positionOffset (desc)", "", 0, double(kPos31 - 1));
  p->positionsBatchStride = intIn(env, desc[abi::kPosBatchStride], "positionsBatchStride (desc)", "", 0, kMaxSafe);
  p->positionsRowStride = intIn(env, desc[abi::kPosRowStride], "positionsRowStride (desc)", "", 0, kMaxSafe);
  if (isNullish(env, arr)) {
    if (ROPE_UNLIKELY(p->positionOffset + p->tokens - 1 >= kPos31))
      throwRange(env, "positionOffset + tokens - 1 = " + std::to_string(p->positionOffset + p->tokens - 1) +
                          " is not below 2^31");
    return;
  }
  const View v = typedArg(env, arr, "positions", napi_int32_array);
  const int32_t* pos = static_cast<const int32_t*>(v.data);
  // Rows a call reads: every M-RoPE section row (row 0 alone without pairSection).
  const int64_t rows = ctx.geo.pairSection ? ctx.geo.sectionRows : 1;
  int64_t end = 0;
  if (ROPE_UNLIKELY(!bounds::addMul(end, rows - 1, p->positionsRowStride) ||
                    !bounds::addMul(end, p->batch - 1, p->positionsBatchStride) || !bounds::addMul(end, 1, p->tokens) ||
                    end > v.length))
    throwRange(env, "positions.length " + std::to_string(v.length) + " is too short for " + std::to_string(rows) +
                        " row(s) x batch " + std::to_string(p->batch) + " x tokens " + std::to_string(p->tokens) +
                        " with rowStride " + std::to_string(p->positionsRowStride) + ", batchStride " +
                        std::to_string(p->positionsBatchStride));
  // Every entry the walk will read must be a position in [0, 2^31).
  const int64_t rowsRead = p->positionsRowStride == 0 ? 1 : rows;
  const int64_t batchRead = p->positionsBatchStride == 0 ? 1 : p->batch;
  for (int64_t r = 0; r < rowsRead; r++)
    for (int64_t b = 0; b < batchRead; b++) {
      const int64_t first = r * p->positionsRowStride + b * p->positionsBatchStride;
      for (int64_t t = 0; t < p->tokens; t++)
        if (ROPE_UNLIKELY(pos[first + t] < 0))
          throwRange(env, "positions[" + std::to_string(first + t) + "] = " + std::to_string(pos[first + t]) +
                              " is negative (positions must be in [0, 2^31))");
    }
  p->positions = pos;
  // Positions sharing memory with a rotated tensor (possible through two SharedArrayBuffer
  // objects over one memory, which no JS check can see): the walk would read positions it has
  // already overwritten. Judged by address; then the walk reads a copy.
  const char* pa = reinterpret_cast<const char*>(pos);
  const char* pe = pa + v.length * 4;
  const auto meets = [&](const TensorRef& x) {
    const char* xa = static_cast<const char*>(x.data);
    return xa < pe && pa < xa + x.length * dtypeSize(x.dtype);
  };
  if (ROPE_UNLIKELY(meets(p->q) || (p->hasK && meets(p->k)))) {
    try {
      packPositions(p, &ctx.posCopy);
    } catch (const std::bad_alloc&) {
      throw Napi::Error::New(env, "apply: out of memory for a copy of positions");
    }
  }
}

}  // namespace

void prepareCall(const Napi::CallbackInfo& info, const char* call, const CallContext& ctx, Plan* out, double* invFreqOut,
               std::shared_ptr<CosSinTable>* keep) {
  Napi::Env env = info.Env();
  if (ROPE_UNLIKELY(info.Length() < 5)) throwType(env, std::string(call) + "(q, k, positions, invFreq, desc): expected 5 arguments, got " + std::to_string(info.Length()));
  // The descriptor is copied first: a SharedArrayBuffer-backed one could change under us.
  const bool ownDesc = ctx.ownDesc.is(env, info[4]);
  const void* descData = ctx.ownDesc.data();
  if (!ownDesc) {
    const View dv = typedArg(env, info[4], "desc", napi_float64_array);
    if (ROPE_UNLIKELY(dv.length < abi::kLen))
      throwRange(env, "desc.length " + std::to_string(dv.length) + " is less than " + std::to_string(int(abi::kLen)));
    descData = dv.data;
  }
  double desc[abi::kLen];
  std::memcpy(desc, descData, sizeof desc);

  Plan& p = *out;
  p.geo = ctx.geo;
  p.batch = intIn(env, desc[abi::kBatch], "batch (desc)", "", 1, kMaxSafe);
  p.tokens = intIn(env, desc[abi::kTokens], "tokens (desc)", "", 1, kMaxSafe);
  p.inverse = intIn(env, desc[abi::kInverse], "inverse (desc)", "", 0, 1) == 1;
  p.threads = intIn(env, desc[abi::kThreads], "threads (desc)", "", 0, double(kMaxThreads));  // 0 = auto
  p.attentionScaling = desc[abi::kAttentionScaling];
  if (ROPE_UNLIKELY(!std::isfinite(p.attentionScaling)))
    throwRange(env, "attentionScaling (desc) must be finite, got " + fmt(p.attentionScaling));
  const int64_t headDim = ctx.geo.headDim;

  p.q = tensorArg(env, info[0], arrayInfo(env, info[0]), desc, abi::kQ, "q", p.batch, p.tokens, headDim, ctx.geo.rotaryDim);
  // k: a typed array (then no null test is needed) or null/undefined.
  const ArrayInfo kInfo = arrayInfo(env, info[1]);
  p.hasK = kInfo.typed || !isNullish(env, info[1]);
  if (p.hasK) {
    p.k = tensorArg(env, info[1], kInfo, desc, abi::kK, "k", p.batch, p.tokens, headDim, ctx.geo.rotaryDim);
    checkQKDisjoint(env, p);
  }
  checkPositions(env, info[2], desc, ctx, &p);

  const int64_t half = ctx.geo.rotaryDim / 2;
  View f;
  if (ownDesc && isNullish(env, info[3])) {
    f = View{const_cast<double*>(ctx.ownDesc.data() + abi::kLen), half};  // handle.desc's tail (only read)
  } else {
    f = typedArg(env, info[3], "invFreq", napi_float64_array);
    if (ROPE_UNLIKELY(f.length != half))
      throwRange(env, "invFreq.length " + std::to_string(f.length) + " is not rotaryDim/2 = " + std::to_string(half));
  }
  p.kernels = &activeKernels();
  // One position per token (no M-RoPE) and the forward rotation: rows are worth caching.
  const bool cacheable = ctx.geo.pairSection == nullptr && !p.inverse;
  // The usual case: a cached Table already holds a checked copy of exactly these frequencies
  // (compared in place: a racing writer can only make the comparison fail), so the walk uses
  // that copy, and there is nothing to copy or check.
  const std::shared_ptr<CosSinTable>* table =
      cacheable ? ctx.cache.find(p.kernels, static_cast<const double*>(f.data), half, p.attentionScaling) : nullptr;
  if (table != nullptr) {
    p.invFreq = (*table)->invFreq();
  } else {
    // Copied first (a SharedArrayBuffer could change under us), then the copy is checked without
    // branches (vectorised): an exponent field >= 1023+21 (|f| >= 2^21, inf, NaN) plus
    // (2047-1044+1) << 52 carries into bit 63 (kMaxInvFreq = 2^21). Below 2^21, position * invFreq < 2^52 for every
    // position < 2^31, where the kernels' angle reduction is exact (lib/rope.ts MAX_INV_FREQ).
    std::memcpy(invFreqOut, f.data, size_t(half) * sizeof(double));
    const uint64_t* bits = reinterpret_cast<const uint64_t*>(invFreqOut);
    uint64_t bad = 0;
    for (int64_t j = 0; j < half; j++) bad |= (bits[j] & 0x7FF0000000000000ull) + (uint64_t(2048 - 1044) << 52);
    if (ROPE_UNLIKELY(bad >> 63))
      for (int64_t j = 0; j < half; j++)
        if (!(std::fabs(invFreqOut[j]) < double(kMaxInvFreq)))
          throwRange(env, "invFreq[" + std::to_string(j) + "] must be finite and below 2^21 in magnitude, got " + fmt(invFreqOut[j]));
    p.invFreq = invFreqOut;
    if (cacheable) table = &ctx.cache.insert(p.kernels, invFreqOut, half, p.attentionScaling);
  }
  if (table != nullptr && *table) {
    p.cache = table->get();
    if (keep != nullptr) *keep = *table;  // also keeps p.invFreq alive when it is the Table's
  }
}

}  // namespace binding
}  // namespace rope
