// The addon's module: what `require('rope_simd.node')` returns.
#include <napi.h>

#include <cstdlib>
#include <string>

#include "binding/async.h"
#include "binding/module_fns.h"
#include "binding/native_rope.h"
#include "dispatch.h"

namespace {
using namespace rope;
using namespace rope::binding;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // ROPE_SIMD_ISA forces a (lower) ISA for a direct require too; unsupported -> the load fails
  // with why (lib/backend.ts reports it).
  const char* forced = std::getenv("ROPE_SIMD_ISA");
  std::string err;
  if (forced != nullptr && *forced != '\0' && !selectKernels(forced, &err))
    throw Napi::Error::New(env, std::string("ROPE_SIMD_ISA=") + forced + ": " + err);
  exports.Set("supportedIsas", Napi::Function::New<SupportedIsas>(env, "supportedIsas"));
  exports.Set("isa", Napi::Function::New<Isa>(env, "isa"));
  exports.Set("selectIsa", Napi::Function::New<SelectIsa>(env, "selectIsa"));
  exports.Set("limitPass", Napi::Function::New<LimitPass>(env, "limitPass"));
  exports.Set("limitPassQK", Napi::Function::New<LimitPassQK>(env, "limitPassQK"));
  exports.Set("runsInPlace", Napi::Function::New<RunsInPlace>(env, "runsInPlace"));
  initEnvAsync(env);  // (false: applyAsync refuses with a message; nothing else depends on it)
  exports.Set("poolThreads", Napi::Function::New<PoolThreads>(env, "poolThreads"));
  exports.Set("NativeRope", defineNativeRope(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(rope_simd, Init)
