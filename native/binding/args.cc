#include "binding/args.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "abi.h"
#include "bounds.h"

namespace rope {
namespace binding {

void throwType(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
void throwRange(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

std::string fmt(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[40];
  if (v == std::floor(v) && std::fabs(v) < 1e21)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

const char* typedName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "a typed array";
  }
}

std::string describe(const Napi::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsUndefined()) return "undefined";
  if (v.IsTypedArray()) return typedName(v.As<Napi::TypedArray>().TypedArrayType());
  if (v.IsNumber()) return "number " + fmt(v.As<Napi::Number>().DoubleValue());
  if (v.IsString()) return "a string";
  if (v.IsBoolean()) return "a boolean";
  if (v.IsArray()) return "an Array";
  if (v.IsArrayBuffer()) return "an ArrayBuffer";
  if (v.IsFunction()) return "a function";
  return "an object";
}

const char* dtypeName(int64_t d) { return d == kF32 ? "f32" : d == kF16 ? "f16" : "bf16"; }

void failTyped(Napi::Env env, napi_value raw, const char* name, napi_typedarray_type want,
               int64_t dtype) {
  const Napi::Value v(env, raw);
  std::string why = dtype < 0 ? "" : std::string(" for dtype ") + std::to_string(dtype) + " (" + dtypeName(dtype) + ")";
  throwType(env, std::string(name) + (want == napi_int32_array ? " must be an " : " must be a ") + typedName(want) + why +
                     ", got " + describe(v));
}

void checkDetached(Napi::Env env, napi_value v, const char* name) {
  napi_value buffer = nullptr;
  bool detached = false;
  if (napi_get_typedarray_info(env, v, nullptr, nullptr, nullptr, &buffer, nullptr) == napi_ok &&
      napi_is_detached_arraybuffer(env, buffer, &detached) == napi_ok && detached)
    throwType(env, std::string(name) + "'s ArrayBuffer is detached");
}

void failInt(Napi::Env env, double v, const char* prefix, const char* field, double lo, double hi) {
  if (!std::isfinite(v) || v != std::floor(v))
    throwRange(env, std::string(prefix) + field + " must be a finite integer, got " + fmt(v));
  throwRange(env, std::string(prefix) + field + " " + fmt(v) + " is out of range [" + fmt(lo) + ", " + fmt(hi) + "]");
}

double numberArg(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) throwType(env, std::string(name) + " must be a number, got " + describe(v));
  return v.As<Napi::Number>().DoubleValue();
}

namespace {

[[noreturn]] ROPE_COLD void failHeadStride(Napi::Env env, const char* name, const TensorRef& x, int64_t headDim) {
  throwRange(env, std::string(name) + " headStride " + std::to_string(x.headStride) + " is less than headDim " +
                      std::to_string(headDim) + " (heads would overlap)");
}

[[noreturn]] ROPE_COLD void failTensorEnd(Napi::Env env, const char* name, const TensorRef& x, int64_t end) {
  throwRange(env, std::string(name) + ".length " + std::to_string(x.length) + " is too short: offset + (batch-1)*batchStride + " +
                      "(tokens-1)*tokenStride + (heads-1)*headStride + headDim = " +
                      (end > 0 ? std::to_string(end) : std::string("more than 2^63")));
}

[[noreturn]] ROPE_COLD void failRowsOverlap(Napi::Env env, const char* name, const TensorRef& x, int64_t batch,
                                            int64_t tokens, int64_t rotaryDim) {
  throwRange(env, bounds::rowsOverlap(name, x, batch, tokens, rotaryDim));
}

}  // namespace

TensorRef tensorArg(Napi::Env env, napi_value arr, const ArrayInfo& info, const double* desc, int at, const char* name,
                    int64_t batch, int64_t tokens, int64_t headDim, int64_t rotaryDim) {
  TensorRef x;
  const int64_t dtype = intIn(env, desc[at + abi::kDtype], name, " dtype (desc)", 0, 2);
  x.dtype = DType(dtype);
  x.heads = intIn(env, desc[at + abi::kHeads], name, " heads (desc)", 1, kMaxSafe);
  x.offset = intIn(env, desc[at + abi::kOffset], name, " offset (desc)", 0, kMaxSafe);
  x.batchStride = intIn(env, desc[at + abi::kBatchStride], name, " batchStride (desc)", 0, kMaxSafe);
  x.tokenStride = intIn(env, desc[at + abi::kTokenStride], name, " tokenStride (desc)", 0, kMaxSafe);
  x.headStride = intIn(env, desc[at + abi::kHeadStride], name, " headStride (desc)", 0, kMaxSafe);
  const View v = typedArg(env, arr, info, name, arrayTypeFor(dtype), dtype);
  x.data = v.data;
  x.length = v.length;
  if (ROPE_UNLIKELY(x.heads > 1 && x.headStride < headDim)) failHeadStride(env, name, x, headDim);
  int64_t end = 0;
  if (ROPE_UNLIKELY(!bounds::tensorEnd(x, batch, tokens, headDim, &end) || end > x.length)) failTensorEnd(env, name, x, end);
  if (ROPE_UNLIKELY(!bounds::rowsNested(x, batch, tokens, rotaryDim))) failRowsOverlap(env, name, x, batch, tokens, rotaryDim);
  return x;
}

}  // namespace binding
}  // namespace rope
