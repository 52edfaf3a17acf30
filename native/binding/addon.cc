// The production addon: what `require('rope_simd.node')` returns (exports.cc).
#include <napi.h>

#include "binding/addon.h"

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) { return rope::binding::exportAddon(env, exports); }
}  // namespace

NODE_API_MODULE(rope_simd, Init)
