// libFuzzer target: decodes a random row (dtype, style, half, positions, cos/sin scale, data) and
// runs every ISA kernel this CPU supports next to the scalar one on buffers of exactly the row's
// size (heap, so ASan flags any read or write past them). Checks: cosSin within 1 ulp of scalar,
// rotation within the kernel test's bounds (NaN-aware), scale bit-identical. Any disagreement
// aborts, which libFuzzer records as a crash with the input.
//   scripts/test/fuzz-kernels.sh [seconds]
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../../native/dispatch.h"
#include "test_util.h"

using namespace rope;

namespace {

struct Reader {
  const uint8_t* p;
  size_t n, i = 0;
  uint8_t u8() { return i < n ? p[i++] : 0; }
  uint32_t u32() { uint32_t v = 0; for (int k = 0; k < 4; ++k) v |= uint32_t(u8()) << (8 * k); return v; }
  uint64_t u64() { return uint64_t(u32()) | (uint64_t(u32()) << 32); }
  float f32() { uint32_t u = u32(); float f; std::memcpy(&f, &u, 4); return f; }
  double f64() { uint64_t u = u64(); double d; std::memcpy(&d, &u, 8); return d; }
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "MISMATCH %s\n", what.c_str());
  std::abort();
}

// Floats at most one representable step apart (either sign), or both NaN.
bool oneUlp(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b || std::nextafter(a, b) == b;
}

double clampInf(DType t, double v) {
  double cap = t == kF16 ? 65536.0 : std::ldexp(1.0, 128);
  return v > cap ? cap : v < -cap ? -cap : v;
}

const std::vector<const KernelTable*>& tables() {
  static const std::vector<const KernelTable*> all = [] {
    std::vector<const KernelTable*> v;
    for (const std::string& name : supportedIsas())
      if (name != "scalar") v.push_back(findKernels(name.c_str(), nullptr));
    return v;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in{data, size};
  const uint8_t b0 = in.u8();
  const DType t = DType(b0 % 3);
  const Style st = Style((b0 / 3) % 2);
  const int mode = (b0 / 6) % 4;  // 0: realistic, 1: raw cos/sin, 2: raw pos/invFreq, 3: realistic
  const int64_t half = 1 + int64_t(in.u8() | (in.u8() << 8)) % 160;
  const size_t n = size_t(half), sz = test::dtypeSize(t);
  const KernelTable& scalar = scalarKernels();

  // cos/sin: from positions and invFreq (mode 2: raw doubles, anything goes), or raw floats.
  std::vector<double> pos(n), freq(n);
  double scale = in.f32(), sinScale;
  if (mode != 2 && !(std::fabs(scale) <= 4)) scale = 1.0;
  sinScale = (in.u8() & 1) ? -scale : scale;
  const double p0 = double(in.u32() & 0x7FFFFFFFu);
  const double base = 1000.0 * (1 + in.u8());
  for (size_t j = 0; j < n; ++j) {
    pos[j] = mode == 2 ? in.f64() : p0;
    freq[j] = mode == 2 ? in.f64() : std::pow(base, -double(j) / double(n));
  }
  std::vector<float> cosRef(n), sinRef(n);
  scalar.cosSin(pos.data(), freq.data(), half, scale, sinScale, cosRef.data(), sinRef.data());
  for (const KernelTable* k : tables()) {
    std::vector<float> c(n), s(n);
    k->cosSin(pos.data(), freq.data(), half, scale, sinScale, c.data(), s.data());
    for (size_t j = 0; j < n; ++j)
      if (!oneUlp(c[j], cosRef[j]) || !oneUlp(s[j], sinRef[j]))
        fail(std::string(k->isa) + " cosSin j=" + std::to_string(j));
  }
  if (mode == 1)
    for (size_t j = 0; j < n; ++j) cosRef[j] = in.f32(), sinRef[j] = in.f32();

  // The row: exactly 2*half elements from the input bytes (zeros once they run out).
  std::vector<uint8_t> row(2 * n * sz);
  for (auto& byte : row) byte = in.u8();

  std::vector<uint8_t> want = row;
  scalar.rotate[st][t](want.data(), cosRef.data(), sinRef.data(), half);
  double rowMax = 0;
  std::vector<bool> comparable(2 * n, true);
  for (size_t j = 0; j < n; ++j) {
    size_t ix = st == kHalf ? j : 2 * j, iy = st == kHalf ? j + n : ix + 1;
    double x = test::decode(t, row.data(), ix), y = test::decode(t, row.data(), iy);
    double c = cosRef[j], s = sinRef[j];
    // The SIMD kernels round y*s and x*s to f32 before the fma: where that overflows they may
    // give inf/NaN where the double-evaluated scalar is finite. Both follow the formula there.
    if (!(std::fabs(y * s) <= FLT_MAX) || !(std::fabs(x * s) <= FLT_MAX)) comparable[ix] = comparable[iy] = false;
    for (double v : {std::fabs(x) * std::fmax(std::fabs(c), std::fabs(s)), std::fabs(y) * std::fmax(std::fabs(c), std::fabs(s)),
                     std::fabs(x * c - y * s), std::fabs(y * c + x * s)})
      if (std::isfinite(v)) rowMax = std::fmax(rowMax, v);
  }
  const double tol = 2 * test::ulpOf(kF32, rowMax);
  for (const KernelTable* k : tables()) {
    std::vector<uint8_t> got = row;
    std::vector<float> c(cosRef), s(sinRef);  // exact-size copies: the kernel must not read past
    k->rotate[st][t](got.data(), c.data(), s.data(), half);
    for (size_t i = 0; i < 2 * n; ++i) {
      if (!comparable[i]) continue;
      double a = test::decode(t, got.data(), i), w = test::decode(t, want.data(), i);
      bool ok;
      if (std::isnan(a) || std::isnan(w)) ok = std::isnan(a) && std::isnan(w);
      else {
        a = clampInf(t, a), w = clampInf(t, w);
        double elemUlp = t == kF32 ? 0 : test::ulpOf(t, std::fmax(std::fabs(a), std::fabs(w)));
        ok = std::fabs(a - w) <= elemUlp + tol;
      }
      if (!ok)
        fail(std::string(k->isa) + " rotate dtype=" + std::to_string(t) + " style=" + std::to_string(st) +
             " half=" + std::to_string(half) + " i=" + std::to_string(i) + " got " + std::to_string(a) +
             " scalar " + std::to_string(w));
    }
  }

  // Scale (the limit pass): bit-identical, NaN-aware.
  const float factor = float(scale);
  std::vector<uint8_t> scaled = row;
  scalar.scale[t](scaled.data(), int64_t(2 * n), factor);
  for (const KernelTable* k : tables()) {
    std::vector<uint8_t> got = row;
    k->scale[t](got.data(), int64_t(2 * n), factor);
    for (size_t i = 0; i < 2 * n; ++i) {
      double a = test::decode(t, got.data(), i), w = test::decode(t, scaled.data(), i);
      bool same = (std::isnan(a) && std::isnan(w)) || std::memcmp(&got[i * sz], &scaled[i * sz], sz) == 0;
      if (!same) fail(std::string(k->isa) + " scale i=" + std::to_string(i));
    }
  }
  return 0;
}
