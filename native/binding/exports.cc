// The production addon's exports: NativeRope and ISA selection, nothing for tests or benchmarks
// (the testing addon adds those: testing.cc).
#include <napi.h>

#include <cstdlib>
#include <string>

#include "binding/addon.h"
#include "binding/async.h"
#include "binding/module_fns.h"
#include "binding/native_rope.h"
#include "dispatch.h"

namespace rope {
namespace binding {

Napi::Object exportAddon(Napi::Env env, Napi::Object exports) {
  // ROPE_SIMD_ISA forces a (lower) ISA for a direct require too; unsupported -> the load fails
  // with why (lib/backend.ts reports it).
  const char* forced = std::getenv("ROPE_SIMD_ISA");
  std::string err;
  if (forced != nullptr && *forced != '\0' && !selectKernels(forced, &err))
    throw Napi::Error::New(env, std::string("ROPE_SIMD_ISA=") + forced + ": " + err);
  exports.Set("supportedIsas", Napi::Function::New<SupportedIsas>(env, "supportedIsas"));
  exports.Set("isa", Napi::Function::New<Isa>(env, "isa"));
  exports.Set("selectIsa", Napi::Function::New<SelectIsa>(env, "selectIsa"));
  initEnvAsync(env);  // (false: applyAsync refuses with a message; nothing else depends on it)
  exports.Set("NativeRope", defineNativeRope(env));
  return exports;
}

}  // namespace binding
}  // namespace rope
