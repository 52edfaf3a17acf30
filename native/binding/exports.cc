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

#ifdef _WIN32
#include <windows.h>
#else
#include <dlfcn.h>
#endif

namespace rope {
namespace binding {
namespace {

// Keeps this shared library mapped for the life of the process. Node unloads an addon when the
// last environment that loaded it goes (a worker_thread's exit, when the main thread never loaded
// it), but code of ours outlives that: the pool's helper threads, and the thread-exit destructors
// the C++ runtime registers in a thread that threw (a prebuild's static libc++abi keeps its
// exception state under a pthread key). Unmapped, either one runs into nothing: SIGSEGV.
void pinLibrary() {
#ifdef _WIN32
  HMODULE self = nullptr;
  GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                     reinterpret_cast<LPCWSTR>(&pinLibrary), &self);
#else
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&pinLibrary), &info) != 0 && info.dli_fname != nullptr)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);  // handle kept: never closed
#endif
}

}  // namespace

Napi::Object exportAddon(Napi::Env env, Napi::Object exports) {
  pinLibrary();  // before anything can throw
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
