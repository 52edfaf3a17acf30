// The NativeRope class the addon exports (native_rope.cc).
#pragma once
#include <napi.h>

namespace rope {
namespace binding {

Napi::Function defineNativeRope(Napi::Env env);

}  // namespace binding
}  // namespace rope
