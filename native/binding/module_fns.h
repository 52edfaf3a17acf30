// The module's functions beside NativeRope: which ISA runs (exports of the addon), and the hooks
// only the testing addon exports (testing.cc: limit passes, pool and memory probes).
#pragma once
#include <napi.h>

namespace rope {
namespace binding {

// supportedIsas() -> names best first; isa() -> the active one; selectIsa(name).
Napi::Value SupportedIsas(const Napi::CallbackInfo& info);
Napi::Value Isa(const Napi::CallbackInfo& info);
void SelectIsa(const Napi::CallbackInfo& info);

// Test and bench hooks (testing.cc).
void LimitPass(const Napi::CallbackInfo& info);
void LimitPassQK(const Napi::CallbackInfo& info);
Napi::Value RunsInPlace(const Napi::CallbackInfo& info);
Napi::Value PoolThreads(const Napi::CallbackInfo& info);

}  // namespace binding
}  // namespace rope
