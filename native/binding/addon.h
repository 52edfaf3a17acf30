// The production addon's exports (exports.cc), which the testing addon (testing.cc) also starts from.
#pragma once
#include <napi.h>

namespace rope {
namespace binding {

// Fills exports with NativeRope, supportedIsas, isa and selectIsa (ROPE_SIMD_ISA applied first).
Napi::Object exportAddon(Napi::Env env, Napi::Object exports);

}  // namespace binding
}  // namespace rope
