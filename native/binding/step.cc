#include "binding/step.h"

#include "binding/args.h"
#include "bounds.h"
#include "dispatch.h"
#include "kernels/cache_kernels.h"

namespace rope {
namespace binding {

bool stepPlan(napi_env env, const Geometry& geo, CosSinCache& cache, StepConfig& c, const napi_value* argv, Plan* out) {
  const int64_t headDim = geo.headDim;
  View qa, ka;
  const int64_t qRow = c.qHeads * headDim, kRow = c.kHeads * headDim;
  if (ROPE_UNLIKELY(!bytesView(env, argv[0], dtypeSize(c.qDtype), &qa) || !bytesView(env, argv[1], dtypeSize(c.kDtype), &ka) ||
                    qa.length % qRow != 0))
    return false;
  const int64_t tokens = qa.length / qRow;
  if (ROPE_UNLIKELY(ka.length != tokens * kRow)) return false;
  const uintptr_t q0 = reinterpret_cast<uintptr_t>(qa.data), k0 = reinterpret_cast<uintptr_t>(ka.data);
  const uintptr_t q1 = q0 + size_t(qa.length * dtypeSize(c.qDtype)), k1 = k0 + size_t(ka.length * dtypeSize(c.kDtype));
  if (ROPE_UNLIKELY(q0 < k1 && k0 < q1)) return false;  // fused QKV views: the plain call proves rows apart

  Plan& p = *out;
  p.geo = geo;
  p.batch = 1;
  p.tokens = tokens;
  p.inverse = c.inverse;
  p.threads = c.threads;
  p.attentionScaling = c.attentionScaling;
  p.invFreq = c.invFreq.data();
  p.hasK = true;
  p.q = TensorRef{qa.data, qa.length, c.qDtype, c.qHeads, 0, 0, qRow, headDim};
  p.k = TensorRef{ka.data, ka.length, c.kDtype, c.kHeads, 0, 0, kRow, headDim};
  double v = -1;
  if (napi_get_value_double(env, argv[2], &v) == napi_ok) {  // a number (one N-API call, not two)
    if (ROPE_UNLIKELY(!(v >= 0 && v + double(tokens - 1) < double(kPos31)) || double(int64_t(v)) != v))
      return false;
    p.positionOffset = int64_t(v);
  } else {
    View pa;
    const int64_t rows = geo.pairSection ? geo.sectionRows : 1;
    if (ROPE_UNLIKELY(!bytesView(env, argv[2], 4, &pa) || pa.length != rows * tokens)) return false;
    const uintptr_t p0 = reinterpret_cast<uintptr_t>(pa.data), p1 = p0 + size_t(pa.length) * sizeof(int32_t);
    if (ROPE_UNLIKELY((p0 < q1 && q0 < p1) || (p0 < k1 && k0 < p1))) return false;
    const int32_t* pos = static_cast<const int32_t*>(pa.data);
    int32_t low = 0;
    for (int64_t i = 0; i < rows * tokens; i++) low |= pos[i];  // a sign bit: some position < 0
    if (ROPE_UNLIKELY(low < 0)) return false;
    p.positions = pos;
    p.positionsRowStride = tokens;
  }
  p.kernels = &activeKernels();
  if (geo.pairSection == nullptr && !c.inverse) {
    // The step's own reference to its Table: no lookup per call (a new one after selectIsa).
    if (c.tableKernels != p.kernels) {
      const int64_t half = geo.rotaryDim / 2;
      const std::shared_ptr<CosSinTable>* t = cache.find(p.kernels, p.invFreq, half, c.attentionScaling);
      c.table = t != nullptr ? *t : cache.insert(p.kernels, p.invFreq, half, c.attentionScaling);
      c.tableKernels = p.kernels;
    }
    p.cache = c.table.get();
  }
  return true;
}

bool stepCachePlan(napi_env env, const napi_value* argv, Plan* p, StepCache* out) {
  double cd = -1;  // (napi_get_value_int32 would truncate 0.5 to 0)
  if (ROPE_UNLIKELY(napi_get_value_double(env, argv[7], &cd) != napi_ok || !(cd >= 0 && cd <= 6) || double(int(cd)) != cd)) return false;
  const int code = int(cd);
  if (ROPE_UNLIKELY((code & 3) == 3)) return false;
  const DType dtype = DType(code & 3);
  const bool hnd = (code >> 2) == 1;
  const int64_t headDim = p->geo.headDim, tokens = p->tokens;
  const int64_t row = p->k.heads * headDim;
  View kc;
  if (ROPE_UNLIKELY(!bytesView(env, argv[4], dtypeSize(dtype), &kc) || kc.length % row != 0)) return false;
  const int64_t length = kc.length, slotCount = length / row;
  const int64_t cb = length * dtypeSize(dtype);
  CacheWrite& c = out->write;
  c.kernels = &cacheKernelsFor(*p->kernels);
  c.k = kc.data;
  c.length = length;
  c.dtype = dtype;
  c.slotStride = hnd ? headDim : row;
  c.headStride = hnd ? slotCount * headDim : headDim;
  // v and its cache: both or neither; v is k's twin (same kind and length, dense).
  const int64_t ks = dtypeSize(p->k.dtype);
  View v;
  if (!bytesView(env, argv[3], ks, &v)) {
    napi_valuetype vt = napi_object, vct = napi_object;
    if (napi_typeof(env, argv[3], &vt) != napi_ok || vt != napi_undefined || napi_typeof(env, argv[5], &vct) != napi_ok ||
        vct != napi_undefined)
      return false;
    c.v = nullptr;
  } else {
    View vc;
    if (ROPE_UNLIKELY(v.length != p->k.length || !bytesView(env, argv[5], dtypeSize(dtype), &vc) || vc.length != length))
      return false;
    c.v = vc.data;
    c.vIn = TensorRef{v.data, v.length, p->k.dtype, p->k.heads, 0, 0, row, headDim};
    // (q is rotated while v is read whole: apart, or the plain call proves the rows apart)
    if (ROPE_UNLIKELY(bounds::spansMeet(p->q.data, p->q.length * dtypeSize(p->q.dtype), v.data, v.length * ks) ||
                      bounds::spansMeet(vc.data, cb, kc.data, cb)))
      return false;
  }
  // Slots: a run that fits, or up to kStepSlots entries in [-1, slotCount), copied, none twice.
  double start = -1;
  if (napi_get_value_double(env, argv[6], &start) == napi_ok) {
    if (ROPE_UNLIKELY(!(start >= 0 && start <= double(slotCount - tokens)) || double(int64_t(start)) != start)) return false;
    c.slots = nullptr;
    c.slotStart = int64_t(start);
  } else {
    View sa;
    if (ROPE_UNLIKELY(!bytesView(env, argv[6], 4, &sa) || sa.length != tokens || tokens > kStepSlots)) return false;
    std::memcpy(out->slots, sa.data, size_t(tokens) * sizeof(int32_t));  // checked and read from the copy
    for (int64_t t = 0; t < tokens; t++) {
      const int32_t s = out->slots[t];
      if (ROPE_UNLIKELY(s < -1 || s >= slotCount)) return false;
      if (s >= 0)
        for (int64_t u = 0; u < t; u++)
          if (ROPE_UNLIKELY(out->slots[u] == s)) return false;
    }
    c.slots = out->slots;
  }
  // The caches are written: no byte shared with q, k, v or positions.
  const void* spans[4] = {p->q.data, p->k.data, c.v == nullptr ? nullptr : c.vIn.data, p->positions};
  const int64_t bytes[4] = {p->q.length * dtypeSize(p->q.dtype), p->k.length * ks, c.v == nullptr ? 0 : c.vIn.length * ks,
                            p->positions == nullptr ? 0 : (p->geo.pairSection ? p->geo.sectionRows : 1) * tokens * 4};
  for (int i = 0; i < 4; i++)
    if (ROPE_UNLIKELY(bounds::spansMeet(c.k, cb, spans[i], bytes[i]) || (c.v != nullptr && bounds::spansMeet(c.v, cb, spans[i], bytes[i])))) return false;
  p->kv = &c;
  return true;
}

}  // namespace binding
}  // namespace rope
