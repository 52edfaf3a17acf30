// The testing addon (rope_simd_testing.node, built for tests and the bench only: test/native/addon):
// the production addon's exports plus the hooks limitPass, limitPassQK (the memory limit a rotation
// is measured against), readArgs and convertInto (the KV cache write's floor), runsInPlace and
// poolThreads. Being one module, its NativeRope, pool and active ISA are the ones the hooks see.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "binding/addon.h"
#include "binding/args.h"
#include "binding/async.h"
#include "binding/module_fns.h"
#include "kernels/cache_kernels.h"
#include "dispatch.h"
#include "threadpool.h"
#include "walk.h"

namespace rope {
namespace binding {
namespace {

// limitPass(array, dtype, factor[, threads]): f32's x * factor pass over the array's bytes in place
// with the active ISA (16-bit arrays as f32 words: walk.cc's limitPass),
// split into `threads` contiguous chunks over the native pool (bench only: the memory limit).
struct LimitJob {
  char* data;
  int64_t n;
  DType dtype;
  float factor;
};

void limitPart(void* ctx, int64_t i, int64_t parts) {
  const LimitJob& j = *static_cast<const LimitJob*>(ctx);
  const int64_t chunk = ((j.n + parts - 1) / parts + 63) / 64 * 64;  // cache-line multiples
  const int64_t begin = std::min(j.n, i * chunk), end = std::min(j.n, begin + chunk);
  limitPass(activeKernels(), j.data + begin * dtypeSize(j.dtype), end - begin, j.dtype, j.factor);
}

// The limit passes' dtype, factor and [threads] at info[at], info[at + 1], info[at + 2] (threads
// capped at the pool's size).
struct LimitArgs {
  DType dtype;
  float factor;
  int64_t threads;
};
LimitArgs limitArgs(Napi::Env env, const Napi::CallbackInfo& info, size_t at) {
  const int64_t dtype = intIn(env, numberArg(env, info[at], "dtype"), "dtype", "", 0, 2);
  const double factor = numberArg(env, info[at + 1], "factor");
  if (!std::isfinite(factor)) throwRange(env, "factor must be finite, got " + fmt(factor));
  const int64_t threads = info.Length() <= at + 2 || info[at + 2].IsUndefined()
                              ? 1
                              : intIn(env, numberArg(env, info[at + 2], "threads"), "threads", "", 1, double(kMaxThreads));
  return LimitArgs{DType(dtype), float(factor), std::min(threads, kMaxPoolThreads)};
}

}  // namespace

void LimitPass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3) throwType(env, "limitPass(array, dtype, factor[, threads]): expected 3 or 4 arguments, got " + std::to_string(info.Length()));
  const LimitArgs a = limitArgs(env, info, 1);
  const View v = typedArg(env, info[0], "array", arrayTypeFor(a.dtype), a.dtype);
  LimitJob job{static_cast<char*>(v.data), v.length, a.dtype, a.factor};
  parallelFor(a.threads == 1 ? 1 : a.threads * kChunksPerThread, a.threads, limitPart, &job);
}

// limitPassQK(q, k, dtype, factor[, threads[, tokens]]): the bench's floor for one applyQK call:
// both arrays x factor in place in ONE call, as cheap a crossing as the binding can make (two
// typed-array reads, a few numbers), then the active ISA's unrolled scale pass, in the walk's
// order: a token's q rows, then its k rows (tokens: both lengths a whole number of token rows;
// default 1). All of q then all of k ran up to 1.3x slower than the rotation itself at S3
// (10 MiB, cache-sized), so it was no floor there. Threads split the tokens.
struct LimitQKJob {
  char *q, *k;
  int64_t qRow, kRow, tokens;  // elements per token row; tokens
  DType dtype;
  float factor;
};

namespace {

void limitQKPart(void* ctx, int64_t i, int64_t parts) {
  const LimitQKJob& j = *static_cast<const LimitQKJob*>(ctx);
  const int64_t size = dtypeSize(j.dtype);
  for (int64_t t = j.tokens * i / parts; t < j.tokens * (i + 1) / parts; t++) {
    limitPass(activeKernels(), j.q + t * j.qRow * size, j.qRow, j.dtype, j.factor);
    limitPass(activeKernels(), j.k + t * j.kRow * size, j.kRow, j.dtype, j.factor);
  }
}

}  // namespace

void LimitPassQK(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4) throwType(env, "limitPassQK(q, k, dtype, factor[, threads[, tokens]]): expected 4 to 6 arguments, got " + std::to_string(info.Length()));
  const LimitArgs a = limitArgs(env, info, 2);
  const int64_t tokens =
      info.Length() < 6 || info[5].IsUndefined() ? 1 : intIn(env, numberArg(env, info[5], "tokens"), "tokens", "", 1, 9007199254740991.0);
  const View q = typedArg(env, info[0], "q", arrayTypeFor(a.dtype), a.dtype);
  const View k = typedArg(env, info[1], "k", arrayTypeFor(a.dtype), a.dtype);
  if (q.length % tokens != 0 || k.length % tokens != 0)
    throwRange(env, "limitPassQK: q.length " + std::to_string(q.length) + " and k.length " + std::to_string(k.length) +
                        " must both be multiples of tokens " + std::to_string(tokens));
  LimitQKJob j{static_cast<char*>(q.data), static_cast<char*>(k.data), q.length / tokens, k.length / tokens, tokens,
               a.dtype, a.factor};
  parallelFor(a.threads == 1 ? 1 : std::min(tokens, a.threads * kChunksPerThread), a.threads, limitQKPart, &j);
}

namespace {

// Reads argv[1..argc) as readArgs says, once each; the first `keep` arrays (data and bytes) and
// numbers go to arrays and numbers (for convertInto).
struct Bytes {
  void* data = nullptr;
  size_t bytes = 0;
};
uint64_t readArgv(napi_env env, const napi_value* argv, size_t argc, Bytes* arrays = nullptr, double* numbers = nullptr,
                  size_t keep = 0) {
  double mask = 0;
  napi_get_value_double(env, argv[0], &mask);
  uint64_t seen = 0;
  size_t na = 0, nn = 0;
  for (size_t i = 1; i < argc; i++) {
    if ((int64_t(mask) >> (i - 1)) & 1) {
      Bytes a;
      seen += typedBytes(env, argv[i], &a.data, &a.bytes) ? a.bytes + 1 : 0;
      if (na < keep) arrays[na++] = a;
    } else {
      double v = -1;
      seen += napi_get_value_double(env, argv[i], &v) == napi_ok && v >= 0;
      if (nn < keep) numbers[nn++] = v;
    }
  }
  return seen;
}

napi_value boolean(napi_env env, bool b) {
  napi_value out = nullptr;
  napi_get_boolean(env, b, &out);
  return out;
}

}  // namespace

// readArgs(mask, a0, ..., a7) -> true: reads its arguments as a prepared step does
// (native_rope.cc StepCallback, step.cc), and nothing else: napi_get_cb_info, then args.h
// typedBytes for each argument whose bit is set in mask, napi_get_value_double for the others.
// Its time with a call's arguments is what Node-API alone costs that call (bench/kv-cache.mjs:
// the fused step's eight against applyQK's three).
napi_value ReadArgs(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 9;
  napi_value argv[9] = {};
  napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr);
  return boolean(env, argc > 0 && readArgv(env, argv, argc) != 0);
}

// convertInto(0b11, v, cache, at, dtype) -> whether it wrote: readArgs's reads of the same
// arguments (each read once), then v (f32) converted into cache from element `at` by the active
// ISA's cache kernel (cache_kernels.h convert[f32][dtype]), as the fused call writes a token's v
// row. Its time less readArgs's is that row's share of the fused call (bench/kv-cache.mjs). As
// the step, it proves memory by bytes: whole aligned elements of v's and the cache's dtypes.
napi_value ConvertInto(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 5;
  napi_value argv[5] = {};
  napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr);
  Bytes arrays[2];
  double numbers[2] = {-1, -1};
  if (argc != 5 || readArgv(env, argv, argc, arrays, numbers, 2) == 0) return boolean(env, false);
  const Bytes &v = arrays[0], &c = arrays[1];
  const double at = numbers[0], dtype = numbers[1];
  if (!(dtype == 0 || dtype == 1 || dtype == 2) || v.data == nullptr || c.data == nullptr) return boolean(env, false);
  const size_t cs = size_t(dtypeSize(DType(int(dtype))));
  const double vn = double(v.bytes / 4), cn = double(c.bytes / cs);
  const bool ok = v.bytes % 4 == 0 && reinterpret_cast<uintptr_t>(v.data) % 4 == 0 && c.bytes % cs == 0 &&
                  reinterpret_cast<uintptr_t>(c.data) % cs == 0 && at >= 0 && at == std::floor(at) && at + vn <= cn;
  if (!ok) return boolean(env, false);
  const CacheKernels& ck = cacheKernelsFor(activeKernels());
  ck.convert[kF32][int(dtype)](v.data, static_cast<char*>(c.data) + int64_t(at) * int64_t(cs), int64_t(vn));
  return boolean(env, true);
}

// Whether applyAsync rotates this typed array in place (SharedArrayBuffer memory) rather than in a
// native copy (binding/async.h); tests and docs.
Napi::Value RunsInPlace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) throwType(env, "runsInPlace(array): array must be a typed array, got " + describe(info.Length() ? info[0] : env.Undefined()));
  return Napi::Boolean::New(env, sharedMemory(env, info[0]));
}

// Helper threads the native pool has created so far (tests).
Napi::Value PoolThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(poolThreads())); }

}  // namespace binding
}  // namespace rope

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace rope::binding;
  exportAddon(env, exports);
  exports.Set("limitPass", Napi::Function::New<LimitPass>(env, "limitPass"));
  exports.Set("limitPassQK", Napi::Function::New<LimitPassQK>(env, "limitPassQK"));
  napi_value fn = nullptr;
  napi_create_function(env, "readArgs", NAPI_AUTO_LENGTH, ReadArgs, nullptr, &fn);
  exports.Set("readArgs", Napi::Value(env, fn));
  napi_create_function(env, "convertInto", NAPI_AUTO_LENGTH, ConvertInto, nullptr, &fn);
  exports.Set("convertInto", Napi::Value(env, fn));
  exports.Set("runsInPlace", Napi::Function::New<RunsInPlace>(env, "runsInPlace"));
  exports.Set("poolThreads", Napi::Function::New<PoolThreads>(env, "poolThreads"));
  return exports;
}
}  // namespace

NODE_API_MODULE(rope_simd_testing, Init)
