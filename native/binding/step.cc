#include "binding/step.h"

#include "binding/args.h"
#include "dispatch.h"

namespace rope {
namespace binding {

bool stepPlan(napi_env env, const Geometry& geo, CosSinCache& cache, StepConfig& c, const napi_value* argv, Plan* out) {
  const int64_t headDim = geo.headDim;
  const ArrayInfo qa = arrayInfo(env, argv[0]);
  const ArrayInfo ka = arrayInfo(env, argv[1]);
  const int64_t qRow = c.qHeads * headDim, kRow = c.kHeads * headDim;
  if (ROPE_UNLIKELY(!qa.typed || !ka.typed || qa.type != arrayTypeFor(c.qDtype) || ka.type != arrayTypeFor(c.kDtype) ||
                    qa.data == nullptr || ka.data == nullptr || qa.length == 0 || int64_t(qa.length) % qRow != 0))
    return false;
  const int64_t tokens = int64_t(qa.length) / qRow;
  if (ROPE_UNLIKELY(int64_t(ka.length) != tokens * kRow)) return false;
  const uintptr_t q0 = reinterpret_cast<uintptr_t>(qa.data), k0 = reinterpret_cast<uintptr_t>(ka.data);
  const uintptr_t q1 = q0 + qa.length * size_t(dtypeSize(c.qDtype)), k1 = k0 + ka.length * size_t(dtypeSize(c.kDtype));
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
  p.q = TensorRef{qa.data, int64_t(qa.length), c.qDtype, c.qHeads, 0, 0, qRow, headDim};
  p.k = TensorRef{ka.data, int64_t(ka.length), c.kDtype, c.kHeads, 0, 0, kRow, headDim};
  double v = -1;
  if (napi_get_value_double(env, argv[2], &v) == napi_ok) {  // a number (one N-API call, not two)
    if (ROPE_UNLIKELY(!(v >= 0 && v + double(tokens - 1) < double(kPos31)) || double(int64_t(v)) != v))
      return false;
    p.positionOffset = int64_t(v);
  } else {
    const ArrayInfo pa = arrayInfo(env, argv[2]);
    const int64_t rows = geo.pairSection ? geo.sectionRows : 1;
    if (ROPE_UNLIKELY(!pa.typed || pa.type != napi_int32_array || pa.data == nullptr || int64_t(pa.length) != rows * tokens))
      return false;
    const uintptr_t p0 = reinterpret_cast<uintptr_t>(pa.data), p1 = p0 + pa.length * sizeof(int32_t);
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

}  // namespace binding
}  // namespace rope
