// apply's and applyAsync's argument checks, shared by both: the handle's state they read and the
// one function that turns a call's arguments into a checked Plan.
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "binding/own_desc.h"
#include "cossin_cache.h"
#include "rope.h"

namespace rope {
namespace binding {

// What a call's checks read from its NativeRope: the geometry, the cos/sin cache (a table per
// invFreq), the handle's own descriptor, and where a sync call's positions are copied when they
// share memory with q or k.
struct CallContext {
  const Geometry& geo;
  CosSinCache& cache;
  const OwnDesc& ownDesc;
  std::vector<int32_t>& posCopy;
};

// Everything a call checks, in one place for apply and applyAsync: fills *out (pointers into the
// caller's arrays; invFreq copied into invFreqOut, rotaryDim/2 doubles; *keep, if given, shares
// the cos/sin cache the plan points to, for a call that outlives the next one) or throws before
// any write.
void prepareCall(const Napi::CallbackInfo& info, const char* call, const CallContext& ctx, Plan* out, double* invFreqOut,
                 std::shared_ptr<CosSinTable>* keep);

}  // namespace binding
}  // namespace rope
