// applyAsync: which memory a walk on the libuv pool may touch, and why no JavaScript can pull it
// away (docs/async.md has the long form).
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

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <new>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bounds.h"
#include "rope.h"
#include "threadpool.h"

namespace rope {

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
inline bool initEnvAsync(napi_env env) {
  auto* holder = new (std::nothrow) std::shared_ptr<EnvAsync>();
  if (holder == nullptr) return false;
  try {
    *holder = std::make_shared<EnvAsync>();
  } catch (...) {
    delete holder;
    return false;
  }
  if (napi_set_instance_data(
          env, holder, [](napi_env, void* d, void*) { delete static_cast<std::shared_ptr<EnvAsync>*>(d); }, nullptr) !=
      napi_ok) {
    delete holder;
    return false;
  }
  return napi_add_env_cleanup_hook(env, EnvAsync::waitAll, holder) == napi_ok;
}

inline std::shared_ptr<EnvAsync> envAsync(napi_env env) {
  void* d = nullptr;
  if (napi_get_instance_data(env, &d) != napi_ok || d == nullptr) return nullptr;
  return *static_cast<std::shared_ptr<EnvAsync>*>(d);
}

// Whether a typed array's memory may be rotated in place off the JS thread (see above).
inline bool sharedMemory(napi_env env, napi_value typedArray) {
  napi_value buffer = nullptr;
  bool isArrayBuffer = true;
  if (napi_get_typedarray_info(env, typedArray, nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok ||
      napi_is_arraybuffer(env, buffer, &isArrayBuffer) != napi_ok)
    return false;
  return !isArrayBuffer;
}

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

// Visits every rotated row of x (rotaryDim elements) in (b, t, h) order with its byte offset.
template <class F>
inline void forEachRow(const TensorRef& x, int64_t batch, int64_t tokens, F f) {
  const int64_t size = dtypeSize(x.dtype);
  for (int64_t b = 0; b < batch; b++)
    for (int64_t t = 0; t < tokens; t++)
      for (int64_t h = 0; h < x.heads; h++) f((x.offset + b * x.batchStride + t * x.tokenStride + h * x.headStride) * size);
}

// Copies x's rows into s (throws std::bad_alloc) and points x at the packed copy.
inline void stageTensor(TensorRef* x, int64_t batch, int64_t tokens, int64_t headDim, int64_t rotaryDim, StagedTensor* s) {
  const int64_t size = dtypeSize(x->dtype);
  const int64_t rowBytes = rotaryDim * size;
  s->orig = *x;
  s->data = x->data;
  bounds::tensorEnd(*x, batch, tokens, headDim, &s->end);  // proven by the binding already
  s->bytes = batch * tokens * x->heads * rowBytes;
  s->copy.reset(new char[size_t(s->bytes)]);
  char* dst = s->copy.get();
  const char* src = static_cast<const char*>(x->data);
  forEachRow(*x, batch, tokens, [&](int64_t at) {
    std::memcpy(dst, src + at, size_t(rowBytes));
    dst += rowBytes;
  });
  x->data = s->copy.get();
  x->length = s->bytes / size;
  x->offset = 0;
  x->headStride = rotaryDim;
  x->tokenStride = x->heads * rotaryDim;
  x->batchStride = tokens * x->tokenStride;
}

// The positions entries p's walk reads, packed into *out (rows x batch x tokens, zero strides
// kept), and p pointed at them. Throws std::bad_alloc.
inline void packPositions(Plan* p, std::vector<int32_t>* out) {
  const int64_t rows = p->geo.pairSection ? p->geo.sectionRows : 1;
  const int64_t rowsRead = p->positionsRowStride == 0 ? 1 : rows;
  const int64_t batchRead = p->positionsBatchStride == 0 ? 1 : p->batch;
  out->resize(size_t(rowsRead * batchRead * p->tokens));
  int32_t* o = out->data();
  for (int64_t r = 0; r < rowsRead; r++)
    for (int64_t b = 0; b < batchRead; b++) {
      std::memcpy(o, p->positions + r * p->positionsRowStride + b * p->positionsBatchStride, size_t(p->tokens) * 4);
      o += p->tokens;
    }
  p->positionsBatchStride = p->positionsBatchStride == 0 ? 0 : p->tokens;
  p->positionsRowStride = p->positionsRowStride == 0 ? 0 : batchRead * p->tokens;
  p->positions = out->data();
}

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

  static void execute(napi_env, void* data) {
    AsyncCall* c = static_cast<AsyncCall*>(data);
    if (!c->envState->begin()) return;  // the environment is closing: touch nothing
    walkThreaded(c->plan);               // never throws (threadpool.h)
    c->executed = true;
    c->envState->end();
  }

  // The error to reject with, or nullptr once the rows are back (see the top of this file).
  napi_value commit(napi_env env) {
    const char* names[2] = {plan.hasK ? "q" : "x", "k"};
    for (int i = 0; i < 2; i++) {
      if (!isStaged[i]) continue;
      napi_value arr = nullptr;
      void* data = nullptr;
      size_t length = 0;
      if (napi_get_reference_value(env, staged[i].array, &arr) != napi_ok || arr == nullptr ||
          napi_get_typedarray_info(env, arr, nullptr, &length, &data, nullptr, nullptr) != napi_ok)
        return error(env, "Error", std::string(names[i]) + ": its typed array is gone; nothing was written");
      if (data == nullptr && length == 0)
        return error(env, "TypeError", std::string(names[i]) +
                                           "'s buffer was detached (transferred) while applyAsync ran: nothing was "
                                           "written. Keep the buffer until the promise settles, or use a "
                                           "SharedArrayBuffer-backed array");
      if (data != staged[i].data || int64_t(length) < staged[i].end)
        return error(env, "RangeError", std::string(names[i]) +
                                            "'s buffer was resized or reallocated while applyAsync ran: nothing was "
                                            "written. Keep its size until the promise settles, or use apply");
    }
    for (int i = 0; i < 2; i++) {
      if (!isStaged[i]) continue;
      const StagedTensor& s = staged[i];
      const int64_t rowBytes = plan.geo.rotaryDim * dtypeSize(s.orig.dtype);
      char* dst = static_cast<char*>(s.data);
      const char* src = s.copy.get();
      forEachRow(s.orig, plan.batch, plan.tokens, [&](int64_t at) {
        std::memcpy(dst + at, src, size_t(rowBytes));
        src += rowBytes;
      });
    }
    return nullptr;
  }

  static napi_value error(napi_env env, const char* kind, const std::string& msg) {
    napi_value text = nullptr, err = nullptr;
    if (napi_create_string_utf8(env, msg.c_str(), msg.size(), &text) != napi_ok) return nullptr;
    const std::string k(kind);
    napi_status st = k == "TypeError"    ? napi_create_type_error(env, nullptr, text, &err)
                     : k == "RangeError" ? napi_create_range_error(env, nullptr, text, &err)
                                         : napi_create_error(env, nullptr, text, &err);
    return st == napi_ok ? err : nullptr;
  }

  // On the JS thread. No C++ exception leaves here; a failing Node-API call (a dying environment)
  // is ignored: there is nobody left to tell.
  static void complete(napi_env env, napi_status status, void* data) {
    std::unique_ptr<AsyncCall> c(static_cast<AsyncCall*>(data));
    napi_value err = nullptr;
    bool failed = false;
    try {
      if (status == napi_ok && c->executed) {
        err = c->commit(env);
        failed = err != nullptr;
      } else {
        err = error(env, "Error", "applyAsync was cancelled (its environment is closing): nothing was written");
        failed = true;
      }
    } catch (...) {
      failed = true;
    }
    if (failed && err == nullptr) err = error(env, "Error", "applyAsync failed: nothing was written");
    if (c->deferred != nullptr) {
      napi_value undef = nullptr;
      if (failed && err != nullptr)
        napi_reject_deferred(env, c->deferred, err);
      else if (napi_get_undefined(env, &undef) == napi_ok)
        napi_resolve_deferred(env, c->deferred, undef);
    }
    if (c->onDone != nullptr && status == napi_ok) c->onDone(env, c->owner);
    c->release(env);
  }

  void release(napi_env env) {
    for (napi_ref& r : refs)
      if (r != nullptr) napi_delete_reference(env, r), r = nullptr;
    for (StagedTensor& s : staged)
      if (s.array != nullptr) napi_delete_reference(env, s.array), s.array = nullptr;
    if (work != nullptr) napi_delete_async_work(env, work), work = nullptr;
    int64_t ignored = 0;
    if (externalBytes != 0) napi_adjust_external_memory(env, -externalBytes, &ignored);
    externalBytes = 0;
  }
};

}  // namespace rope
