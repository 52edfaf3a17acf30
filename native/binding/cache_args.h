// applyCache's own arguments (after apply's five, checked by prepare): v, the cache arrays, slots
// and the cache descriptor (abi.h). Everything is re-checked here, never trusted from JS, before
// anything is written: dtypes and array kinds, v's bounds, the cache's whole rows, slots in range
// and distinct (copied first: shared memory can change under us), a cache sharing memory with
// q, k, v, positions or the other cache array, and q's rows meeting k's or v's (read whole while
// q is rotated in place).
#pragma once
#include <napi.h>

#include <cstdint>
#include <vector>

#include "rope.h"

namespace rope {
namespace binding {

// info: apply's (q, k, positions, invFreq, desc), then (v, kCache, vCache, slots, cdesc). Fills
// *out for the walk (p: apply's checked plan); slotsCopy holds the checked slots the walk reads.
// Throws a JS exception, having written nothing, for anything out of bounds.
void cacheArgs(const Napi::CallbackInfo& info, const Plan& p, CacheWrite* out, std::vector<int32_t>* slotsCopy);

}  // namespace binding
}  // namespace rope
