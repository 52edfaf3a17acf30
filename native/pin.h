// Keeping an ArrayBuffer's memory alive for the duration of an async call.
//
// A reference to a typed array keeps the JS objects alive, which is enough for a SharedArrayBuffer
// (it cannot be detached). A plain ArrayBuffer can be transferred mid-call (postMessage,
// structuredClone with transfer): V8 detaches it and hands its backing store to the new owner,
// which may drop it and let GC free the memory while our worker still writes there. Node-API has
// no way to share ownership of a backing store, but V8 does: ArrayBuffer::GetBackingStore()
// returns a std::shared_ptr. We look it up at run time (dlsym: no v8.h needed, so the
// node-api-headers build works, and a runtime without it still loads the addon) and call it with
// the Itanium C++ ABI, where a member function returning a class by value is called exactly like a
// free function taking (hidden return slot, this); `this` of a v8::Local is what N-API's
// napi_value is. A self-test on a fresh ArrayBuffer must pass before any pin is trusted: the
// store must report the memory N-API gave us and be shared with the buffer (use_count >= 2).
// Where the lookup or the self-test fails (Windows, a non-V8 runtime, a changed ABI), pins are
// empty and only the references remain: README "Buffers transferred during an async call".
#pragma once
#include <node_api.h>

#include <memory>
#ifndef _WIN32
#include <dlfcn.h>
#endif

namespace rope {
namespace pin_detail {

struct BackingStore;  // v8::BackingStore, opaque here
using GetFn = std::shared_ptr<BackingStore> (*)(void* arrayBuffer);  // v8::ArrayBuffer::GetBackingStore()
using DataFn = void* (*)(const BackingStore* store);                 // v8::BackingStore::Data() const

struct Api {
  GetFn get = nullptr;
  DataFn data = nullptr;
};

inline Api probe(napi_env env) {
  Api api;
#if !defined(_WIN32) && (defined(__x86_64__) || defined(__aarch64__))
  api.get = reinterpret_cast<GetFn>(dlsym(RTLD_DEFAULT, "_ZN2v811ArrayBuffer15GetBackingStoreEv"));
  api.data = reinterpret_cast<DataFn>(dlsym(RTLD_DEFAULT, "_ZNK2v812BackingStore4DataEv"));
  if (api.get == nullptr || api.data == nullptr) return Api{};
  void* mem = nullptr;
  napi_value ab = nullptr;
  if (napi_create_arraybuffer(env, 64, &mem, &ab) != napi_ok || mem == nullptr) return Api{};
  const std::shared_ptr<BackingStore> store = api.get(ab);
  if (!store || api.data(store.get()) != mem || store.use_count() < 2) return Api{};
#else
  (void)env;
#endif
  return api;
}

inline const Api& api(napi_env env) {
  static const Api a = probe(env);  // once per process (thread-safe), on a JS thread
  return a;
}

}  // namespace pin_detail

// True when async calls pin ArrayBuffer memory (see above). Call on a JS thread.
inline bool pinsBuffers(napi_env env) { return pin_detail::api(env).get != nullptr; }

// Shared ownership of the memory behind typedArray's ArrayBuffer; empty for a SharedArrayBuffer
// (never detached: the reference suffices) or when pinning is unavailable. Call on a JS thread.
inline std::shared_ptr<void> pinBackingStore(napi_env env, napi_value typedArray) {
  const pin_detail::Api& a = pin_detail::api(env);
  if (a.get == nullptr) return nullptr;
  napi_value buffer = nullptr;
  bool isArrayBuffer = false;
  if (napi_get_typedarray_info(env, typedArray, nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok ||
      napi_is_arraybuffer(env, buffer, &isArrayBuffer) != napi_ok || !isArrayBuffer)
    return nullptr;
  return a.get(buffer);
}

}  // namespace rope
