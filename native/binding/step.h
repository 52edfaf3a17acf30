// The binding's prepared decode step (rope.prepare, lib/step.ts): the configuration a step fixes,
// and the per-call checks that turn (q, k, positions) into a Plan.
#pragma once
#include <node_api.h>

#include <cstring>
#include <memory>
#include <vector>

#include "cossin_cache.h"
#include "rope.h"

namespace rope {
namespace binding {

// A prepared step (PrepareStep): everything of a decode call but its arrays and positions.
struct StepConfig {
  std::vector<double> invFreq;  // checked finite
  double attentionScaling = 1.0;
  DType qDtype = kF32, kDtype = kF32;
  int64_t qHeads = 0, kHeads = 0, threads = 1;
  bool inverse = false;
  std::shared_ptr<CosSinTable> table;        // this step's cos/sin rows (empty: none)
  const KernelTable* tableKernels = nullptr;  // the kernels table was made for
  bool same(const StepConfig& o) const {
    return invFreq == o.invFreq && std::memcmp(&attentionScaling, &o.attentionScaling, sizeof(double)) == 0 &&
           qDtype == o.qDtype && kDtype == o.kDtype && qHeads == o.qHeads && kHeads == o.kHeads &&
           threads == o.threads && inverse == o.inverse;
  }
};

// A step's call (q, k, positions): fills *out and returns true when the call is the step's fast
// case: q, k whole aligned elements of its dtypes (args.h bytesView: their memory by bytes; the
// kinds are the JS layer's test), layout 'shd' without strides, whole-array memory apart,
// positions a start offset (number) or an Int32Array of one position per token (per section row).
// Otherwise false, nothing written: the facade then makes the plain call, which accepts or refuses
// with its own message. Per call: three N-API reads and integer checks.
bool stepPlan(napi_env env, const Geometry& geo, CosSinCache& cache, StepConfig& c, const napi_value* argv, Plan* out);

// A step call with a cache write: Int32Array slots up to this many tokens are copied here (and
// checked pairwise); more take the plain call, whose checks sort them.
constexpr int64_t kStepSlots = 16;
struct StepCache {
  CacheWrite write;
  int32_t slots[kStepSlots];
};

// The cache part of a step call (argv[3..7]: v, kCache, vCache, slots, cacheCode = dtype | hnd << 2),
// after stepPlan filled *p: true when it is the fast case (both caches whole rows of one kind,
// v k's twin or absent with its cache, slots a run that fits or distinct in-range entries, no
// cache sharing a byte with anything else the call reads or writes); then p->kv points at out.
// Otherwise false, nothing written: the plain call accepts or refuses with its own message.
bool stepCachePlan(napi_env env, const napi_value* argv, Plan* p, StepCache* out);

}  // namespace binding
}  // namespace rope
