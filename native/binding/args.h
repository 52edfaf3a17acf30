// The binding's argument checks: unpack a typed array or a number and prove every bound before
// anything is written. Cheap tests on the success path (inline here); messages are built only on
// failure, by cold functions in args.cc.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "rope.h"

// Every check is a cheap test on the success path; its message is built by a cold, out-of-line
// function only once the test has failed (a decode call runs ~25 of these checks, and building
// strings for them cost more than the kernels).
#define ROPE_COLD __attribute__((noinline, cold))
#define ROPE_UNLIKELY(x) __builtin_expect(!!(x), 0)

namespace rope {
namespace binding {

constexpr double kMaxSafe = 9007199254740991.0;  // 2^53 - 1
constexpr int64_t kPos31 = kPositionLimit;

[[noreturn]] void throwType(Napi::Env env, const std::string& msg);
[[noreturn]] void throwRange(Napi::Env env, const std::string& msg);

// A number as JS prints it ("NaN", "-Infinity", integers without a fraction).
std::string fmt(double v);
const char* typedName(napi_typedarray_type t);
// What a value is, for messages ("Float32Array", "number 3", "null", ...).
std::string describe(const Napi::Value& v);
const char* dtypeName(int64_t d);

struct View {
  void* data = nullptr;
  int64_t length = 0;
};

[[noreturn]] ROPE_COLD void failTyped(Napi::Env env, napi_value raw, const char* name, napi_typedarray_type want,
                                      int64_t dtype);
ROPE_COLD void checkDetached(Napi::Env env, napi_value v, const char* name);
[[noreturn]] ROPE_COLD void failInt(Napi::Env env, double v, const char* prefix, const char* field, double lo, double hi);

// What one napi_get_typedarray_info call says about a value (typed == false: not a typed array).
struct ArrayInfo {
  bool typed = false;
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
};

inline ArrayInfo arrayInfo(Napi::Env env, napi_value v) {
  ArrayInfo a;
  a.typed = napi_get_typedarray_info(env, v, &a.type, &a.length, &a.data, nullptr, nullptr) == napi_ok;
  return a;
}

// A typed array's memory by its bytes, for the prepared step: napi_get_buffer_info skips
// napi_get_typedarray_info's type query, a chain of up to eleven type tests (~20 ns per array,
// most of a decode step's reads). What memory needs is proved here: whole elements of `size`
// bytes, aligned, not detached (length 0 is refused). The element kind is the JS layer's test
// (lib/engine-native.ts, typedArrayTag); without it a wrong kind is misread values in the
// caller's own memory, never a byte outside it.
// A typed array's data and byte length; false for anything else (asked first: Node 18's
// napi_get_buffer_info aborts the process on anything but an ArrayBufferView).
inline bool typedBytes(napi_env env, napi_value v, void** data, size_t* bytes) {
  bool typed = false;
  return napi_is_typedarray(env, v, &typed) == napi_ok && typed && napi_get_buffer_info(env, v, data, bytes) == napi_ok;
}

inline bool bytesView(napi_env env, napi_value v, int64_t size, View* out) {
  void* data = nullptr;
  size_t bytes = 0;
  if (!typedBytes(env, v, &data, &bytes) || data == nullptr || bytes == 0) return false;
  if (ROPE_UNLIKELY(bytes % size_t(size) != 0 || reinterpret_cast<uintptr_t>(data) % uintptr_t(size) != 0)) return false;
  out->data = data;
  out->length = int64_t(bytes / size_t(size));
  return true;
}

// A typed array of exactly type `want` (dtype >= 0: named in the message); detached buffers are
// refused with a clear message. One N-API call on success (it fails on anything not a typed array).
inline View typedArg(Napi::Env env, napi_value v, const ArrayInfo& a, const char* name, napi_typedarray_type want,
                     int64_t dtype = -1) {
  if (ROPE_UNLIKELY(!a.typed || a.type != want)) failTyped(env, v, name, want, dtype);
  if (ROPE_UNLIKELY(a.data == nullptr && a.length == 0)) checkDetached(env, v, name);
  return View{a.data, int64_t(a.length)};
}

inline View typedArg(Napi::Env env, napi_value v, const char* name, napi_typedarray_type want, int64_t dtype = -1) {
  return typedArg(env, v, arrayInfo(env, v), name, want, dtype);
}

// null or undefined (one N-API call).
inline bool isNullish(Napi::Env env, napi_value v) {
  napi_valuetype t = napi_object;
  return napi_typeof(env, v, &t) == napi_ok && (t == napi_null || t == napi_undefined);
}

// A finite integer in [lo, hi] (0 <= lo, hi <= 2^53 - 1); the parameter's name is prefix + field.
// NaN fails the range test; inside the range the int64 conversion is exact, so it tests integrality.
inline int64_t intIn(Napi::Env env, double v, const char* prefix, const char* field, double lo, double hi) {
  if (ROPE_UNLIKELY(!(v >= lo && v <= hi) || double(int64_t(v)) != v)) failInt(env, v, prefix, field, lo, hi);
  return int64_t(v);
}

double numberArg(Napi::Env env, const Napi::Value& v, const char* name);

inline napi_typedarray_type arrayTypeFor(int64_t dtype) {
  return dtype == kF32 ? napi_float32_array : napi_uint16_array;
}

// Reads one tensor block of the descriptor and its array; proves bounds and row disjointness.
TensorRef tensorArg(Napi::Env env, napi_value arr, const ArrayInfo& info, const double* desc, int at, const char* name,
                    int64_t batch, int64_t tokens, int64_t headDim, int64_t rotaryDim);

}  // namespace binding
}  // namespace rope
