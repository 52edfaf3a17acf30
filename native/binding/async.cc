#include "binding/async.h"

#include <cstring>
#include <new>

#include "bounds.h"
#include "threadpool.h"

namespace rope {
namespace binding {
namespace {

// Visits every rotated row of x (rotaryDim elements) in (b, t, h) order with its byte offset.
template <class F>
inline void forEachRow(const TensorRef& x, int64_t batch, int64_t tokens, F f) {
  const int64_t size = dtypeSize(x.dtype);
  for (int64_t b = 0; b < batch; b++)
    for (int64_t t = 0; t < tokens; t++)
      for (int64_t h = 0; h < x.heads; h++) f((x.offset + b * x.batchStride + t * x.tokenStride + h * x.headStride) * size);
}

}  // namespace

bool initEnvAsync(napi_env env) {
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

std::shared_ptr<EnvAsync> envAsync(napi_env env) {
  void* d = nullptr;
  if (napi_get_instance_data(env, &d) != napi_ok || d == nullptr) return nullptr;
  return *static_cast<std::shared_ptr<EnvAsync>*>(d);
}

bool sharedMemory(napi_env env, napi_value typedArray) {
  napi_value buffer = nullptr;
  bool isArrayBuffer = true;
  if (napi_get_typedarray_info(env, typedArray, nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok ||
      napi_is_arraybuffer(env, buffer, &isArrayBuffer) != napi_ok)
    return false;
  return !isArrayBuffer;
}

void stageTensor(TensorRef* x, int64_t batch, int64_t tokens, int64_t headDim, int64_t rotaryDim, StagedTensor* s) {
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

void packPositions(Plan* p, std::vector<int32_t>* out) {
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

void AsyncCall::execute(napi_env, void* data) {
  AsyncCall* c = static_cast<AsyncCall*>(data);
  if (!c->envState->begin()) return;  // the environment is closing: touch nothing
  walkThreaded(c->plan);               // never throws (threadpool.h)
  c->executed = true;
  c->envState->end();
}

napi_value AsyncCall::commit(napi_env env) {
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

napi_value AsyncCall::error(napi_env env, const char* kind, const std::string& msg) {
  napi_value text = nullptr, err = nullptr;
  if (napi_create_string_utf8(env, msg.c_str(), msg.size(), &text) != napi_ok) return nullptr;
  const std::string k(kind);
  napi_status st = k == "TypeError"    ? napi_create_type_error(env, nullptr, text, &err)
                   : k == "RangeError" ? napi_create_range_error(env, nullptr, text, &err)
                                       : napi_create_error(env, nullptr, text, &err);
  return st == napi_ok ? err : nullptr;
}

void AsyncCall::complete(napi_env env, napi_status status, void* data) {
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

void AsyncCall::release(napi_env env) {
  for (napi_ref& r : refs)
    if (r != nullptr) napi_delete_reference(env, r), r = nullptr;
  for (StagedTensor& s : staged)
    if (s.array != nullptr) napi_delete_reference(env, s.array), s.array = nullptr;
  if (work != nullptr) napi_delete_async_work(env, work), work = nullptr;
  int64_t ignored = 0;
  if (externalBytes != 0) napi_adjust_external_memory(env, -externalBytes, &ignored);
  externalBytes = 0;
}

}  // namespace binding
}  // namespace rope
