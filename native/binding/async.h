// applyAsync: which memory a walk on the libuv pool may touch, and why no JavaScript can pull it
// away (docs/guide/async.md has the long form).
//
// - A SharedArrayBuffer-backed tensor is rotated IN PLACE. Its memory cannot be detached,
//   transferred or shrunk by any JS (the language has no such operation on a SAB; a growable one
//   only grows, reserved up front, its pages never move; shared wasm memory likewise), and it lives
//   while any object refers to it: the call holds a reference to the typed array until it settles.
// - Every other tensor (a plain, resizable or wasm ArrayBuffer) is NEVER touched off the JS
//   thread. Its rotated rows are copied into native memory on the JS thread before the call
//   returns, the walk rotates the copy, and back on the JS thread at completion Node-API is asked
//   again where the array's data is and how long it is: only if the pointer is unchanged and the
//   rows still fit are they copied back (no JS runs between that check and the copy). Otherwise the
//   promise rejects and not one byte is written. JS may detach, transfer, resize or reallocate the
//   buffer meanwhile: it only decides whether the result lands.
// - positions are always copied (then checked) before the call returns; desc and invFreq were.
// "Shared" means napi_is_arraybuffer says the typed array's buffer is NOT an ArrayBuffer (V8: a
// typed array's buffer is an ArrayBuffer or a SharedArrayBuffer). A runtime that answers "an
// ArrayBuffer" for a SAB too (JavaScriptCore) only takes the copying path: safe either way. Nothing
// here reaches into a runtime's internals: Node-API alone, the same on Node, Bun, Deno, Electron.
//
// Teardown: the callbacks are plain Node-API C callbacks that never throw (no node-addon-api
// AsyncWorker, whose OnOK throwing into a dying environment was std::terminate), and an env
// cleanup hook waits until no walk of that env still runs, so a terminating worker never frees
// memory under the pool.
#pragma once
#include <node_api.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rope.h"

namespace rope {
namespace binding {

// Per environment: walks running now. Its cleanup hook marks the environment closing and waits
// until none runs; a walk that starts after that (a runtime may still start queued work) skips
// itself, touching nothing. Queued work that never starts is harmless, so nothing waits for it
// (a runtime that drops queued work at teardown cannot hang the hook). Shared with every call, so
// it outlives the environment's instance data if a late walk still looks at it.
struct EnvAsync {
  std::mutex m;
  std::condition_variable cv;
  int64_t running = 0;
  bool closing = false;
  // Before a walk: false if the environment is closing (then skip it).
  bool begin() {
    std::lock_guard<std::mutex> g(m);
    if (closing) return false;
    running++;
    return true;
  }
  void end() {
    std::lock_guard<std::mutex> g(m);
    if (--running == 0) cv.notify_all();
  }
  static void waitAll(void* arg) {
    EnvAsync* s = static_cast<std::shared_ptr<EnvAsync>*>(arg)->get();
    std::unique_lock<std::mutex> g(s->m);
    s->closing = true;
    s->cv.wait(g, [s] { return s->running == 0; });
  }
};

// Called once per env from Init (never throws; false: async calls will be refused).
bool initEnvAsync(napi_env env);

std::shared_ptr<EnvAsync> envAsync(napi_env env);

// Whether a typed array's memory may be rotated in place off the JS thread (see above).
bool sharedMemory(napi_env env, napi_value typedArray);

// A tensor rotated in a native copy: its rows packed back to back (heads x rotaryDim, then tokens,
// then batch), where the plan points while the walk runs.
struct StagedTensor {
  napi_ref array = nullptr;  // the caller's typed array
  void* data = nullptr;      // where Node-API said its data was when the call was made
  int64_t end = 0;           // elements the rows need (offset + the last row's end)
  TensorRef orig;            // the caller's layout (rows are copied back through it)
  std::unique_ptr<char[]> copy;
  int64_t bytes = 0;
};

// Copies x's rows into s (throws std::bad_alloc) and points x at the packed copy.
void stageTensor(TensorRef* x, int64_t batch, int64_t tokens, int64_t headDim, int64_t rotaryDim, StagedTensor* s);

// The positions entries p's walk reads, packed into *out (rows x batch x tokens, zero strides
// kept), and p pointed at them. Throws std::bad_alloc.
void packPositions(Plan* p, std::vector<int32_t>* out);

// One applyAsync call: everything the walk reads is owned here or kept alive by a reference.
struct AsyncCall {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  std::shared_ptr<EnvAsync> envState;
  bool executed = false;
  Plan plan;
  std::vector<double> invFreq;
  std::vector<int32_t> positions;
  std::shared_ptr<void> table;  // the cos/sin cache table the plan points to
  napi_ref refs[4] = {nullptr, nullptr, nullptr, nullptr};  // this NativeRope, q, k (in place), positions
  StagedTensor staged[2];        // q, k when not shared
  bool isStaged[2] = {false, false};
  int64_t externalBytes = 0;     // reported with napi_adjust_external_memory
  void* owner = nullptr;         // the NativeRope (alive: refs[0]); onDone(env, owner) at completion
  void (*onDone)(napi_env, void*) = nullptr;

  static void execute(napi_env, void* data);

  // The error to reject with, or nullptr once the rows are back (see the top of this file).
  napi_value commit(napi_env env);

  static napi_value error(napi_env env, const char* kind, const std::string& msg);

  // On the JS thread. No C++ exception leaves here; a failing Node-API call (a dying environment)
  // is ignored: there is nobody left to tell.
  static void complete(napi_env env, napi_status status, void* data);

  void release(napi_env env);
};

}  // namespace binding
}  // namespace rope
