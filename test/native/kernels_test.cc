// Standalone kernel test (no Node): every ISA table this CPU can run against the scalar table and
// against plain long-double/double references written here. Rows, cos/sin rows and positions sit
// at the very end of a page followed by a PROT_NONE page, so any overread faults; bytes around the
// rotated part are canaries. Prints "N passed, M failed"; exits 1 on any failure.
//   kernels_test [seed]
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../../native/cossin_cache.h"
#include "../../native/dispatch.h"
#include "../../native/walk.h"
#include "test_util.h"

using namespace rope;
using test::decode;
using test::ulpOf;

namespace {

long gPassed = 0, gFailed = 0;
int64_t gMidAimed = 0, gMidNear = 0;  // midpointCase: pairs aimed, and landed within 4 f32 ulps
// midpointCase: aimed outputs whose fast-path value (fastR2) lies d f32 patterns from a midpoint,
// by dtype (f16, bf16) and d + 8 for |d| <= 8.
int64_t gMidOffset[2][17] = {};

void check(bool ok, const std::string& what) {
  if (ok) { ++gPassed; return; }
  if (++gFailed <= 30) std::fprintf(stderr, "FAIL %s\n", what.c_str());
}

std::mt19937_64 gRng;
double uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(gRng); }
int64_t irand(int64_t a, int64_t b) { return std::uniform_int_distribution<int64_t>(a, b)(gRng); }

const char* kDtypeName[] = {"f32", "f16", "bf16"};
const char* kStyleName[] = {"half", "interleaved"};

test::Guarded gRow(1 << 16), gCos(1 << 16), gSin(1 << 16), gPos(1 << 16), gFreq(1 << 16);

// One element of dtype t: mostly |v| < 2^6 at random scales; with `special`, also NaN, +-inf,
// +-0, subnormals and the type's largest values.
void randomElement(DType t, bool special, void* out, size_t i) {
  double v = uniform(-1, 1) * std::ldexp(1.0, int(irand(-8, 6)));
  if (special && irand(0, 4) == 0) {
    const double big = t == kF16 ? 65504.0 : t == kF32 ? double(FLT_MAX) : 3.3895313892515355e38;
    const double sub = t == kF16 ? 5.9604644775390625e-08 : t == kF32 ? 1e-40 : 1e-39;
    const double pick[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, big, -big, sub, -3 * sub};
    v = pick[irand(0, 8)];
  }
  if (t == kF32) static_cast<float*>(out)[i] = float(v);
  else static_cast<uint16_t*>(out)[i] = test::encode16(t, float(v));
}

// Distance that treats infinity as the next power of two past the largest finite value, so a
// finite result rounding just under overflow and one rounding just over are one ulp apart.
double clampInf(DType t, double v) {
  double cap = t == kF16 ? 65536.0 : std::ldexp(1.0, 128);
  return v > cap ? cap : v < -cap ? -cap : v;
}

// Compares one rotated element: `got` (ISA) vs `want` (scalar table) vs `exact` (double formula).
bool closeEnough(DType t, double got, double want, double exact, double rowMax) {
  if (std::isnan(got) || std::isnan(want)) return std::isnan(got) && std::isnan(want);
  double tol = 2 * ulpOf(kF32, rowMax);  // f32 compute error bound, meaningful under cancellation
  got = clampInf(t, got), want = clampInf(t, want);
  if (std::isnan(exact)) return false;
  exact = clampInf(t, exact);
  double elemUlp = t == kF32 ? 0 : ulpOf(t, std::max(std::fabs(got), std::fabs(want)));
  double refUlp = t == kF32 ? 0 : ulpOf(t, std::max(std::fabs(got), std::fabs(exact))) / 2;
  return std::fabs(got - want) <= elemUlp + tol && std::fabs(got - exact) <= refUlp + tol;
}

// The f32 contract (loops.h) in double, as the JS engine and the scalar kernel compute it:
// round64(x*c - round32(y*s)) and round64(y*c + round32(x*s)); round32 of it is their result.
double f32X(double x, double y, double c, double s) { return x * c - double(float(y * s)); }
double f32Y(double x, double y, double c, double s) { return y * c + double(float(x * s)); }

// The JS engine's value of one element. f16/bf16 (d = round64(x*c - y*s), products exact in
// double): round16(d), bit for bit on every ISA (NaN: any NaN). f32 (d from f32X/f32Y): the scalar
// kernel gives round32(d) bit for bit; an FMA kernel rounds the same exact value once, so it gives
// round32(d) or, where round64 landed on an f32 tie, its neighbour: always with d's sign, zeros
// included (item 11: no underflow flips a sign).
bool jsBits(DType t, const void* row, size_t i, double d, bool scalar = false) {
  if (t == kF32) {
    float got = static_cast<const float*>(row)[i], want = float(d);
    if (std::isnan(want)) return std::isnan(got);
    if (std::memcmp(&got, &want, 4) == 0) return true;
    return !scalar && std::signbit(got) == std::signbit(want) && std::fabs(double(got) - double(want)) <= ulpOf(kF32, std::fabs(want));
  }
  uint16_t got = static_cast<const uint16_t*>(row)[i];
  if (std::isnan(d)) return std::isnan(decode(t, row, i));
  return got == test::encode16(t, d);
}

void rotateCase(const KernelTable& isa, const KernelTable& ref, DType t, Style st, int64_t half,
                int64_t extra, bool special) {
  const size_t sz = test::dtypeSize(t), n = size_t(2 * half + extra);
  std::vector<uint8_t> in(n * sz);
  for (size_t i = 0; i < n; ++i) randomElement(t, special, in.data(), i);
  std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
  double scale = special ? uniform(0.25, 1.0) : uniform(0.25, 1.5), sign = irand(0, 1) ? -1 : 1;
  for (auto j = 0; j < half; ++j) {
    double th = uniform(-4, 4);
    c[j] = float(scale * std::cos(th)), s[j] = float(sign * scale * std::sin(th));
  }
  uint8_t* row = gRow.place<uint8_t>(n * sz);
  std::memset(row - 64, 0xA5, 64);
  std::memcpy(row, in.data(), in.size());
  float* cosP = gCos.place<float>(size_t(half));
  float* sinP = gSin.place<float>(size_t(half));
  std::memcpy(cosP, c.data(), c.size() * 4);
  std::memcpy(sinP, s.data(), s.size() * 4);
  isa.rotate[st][t](row, cosP, sinP, half);
  std::vector<uint8_t> want = in;
  ref.rotate[st][t](want.data(), c.data(), s.data(), half);

  std::string name = std::string(isa.isa) + " rotate " + kStyleName[st] + " " + kDtypeName[t] +
                     " half=" + std::to_string(half) + " extra=" + std::to_string(extra);
  bool canaries = std::memcmp(row + 2 * half * sz, in.data() + 2 * half * sz, size_t(extra) * sz) == 0;
  for (int i = 0; i < 64; ++i) canaries = canaries && row[i - 64] == 0xA5;
  check(canaries, name + ": bytes outside the rotated part changed");
  check(std::memcmp(cosP, c.data(), c.size() * 4) == 0 && std::memcmp(sinP, s.data(), s.size() * 4) == 0,
        name + ": cos/sin changed");

  double rowMax = 0;
  std::vector<double> exact(n);
  for (int64_t j = 0; j < half; ++j) {
    size_t ix = st == kHalf ? size_t(j) : size_t(2 * j), iy = st == kHalf ? size_t(j + half) : ix + 1;
    double x = decode(t, in.data(), ix), y = decode(t, in.data(), iy);
    exact[ix] = t == kF32 ? f32X(x, y, c[j], s[j]) : x * c[j] - y * s[j];
    exact[iy] = t == kF32 ? f32Y(x, y, c[j], s[j]) : y * c[j] + x * s[j];
    double m = std::max(std::fabs(x), std::fabs(y)) * std::max(std::fabs(c[j]), std::fabs(s[j]));
    for (double v : {m, std::fabs(exact[ix]), std::fabs(exact[iy])})
      if (std::isfinite(v)) rowMax = std::max(rowMax, v);
  }
  bool ok = true;
  for (size_t i = 0; i < size_t(2 * half) && ok; ++i) {
    double got = decode(t, row, i), w = decode(t, want.data(), i);
    ok = closeEnough(t, got, w, exact[i], rowMax) && jsBits(t, row, i, exact[i], std::strcmp(isa.isa, "scalar") == 0);
    if (!ok)
      std::fprintf(stderr, "  %s [%zu]: got %.9g scalar %.9g exact %.9g rowMax %g\n", name.c_str(), i,
                   got, w, exact[i], rowMax);
  }
  check(ok, name + ": values");
}

// rotateRows: `count` rows `stride` elements apart, followed by `after` canary elements and then a
// guard page, must be exactly rotate applied to each row (bit for bit: the same operations), with
// every element between and after the rotated parts untouched (gaps hold canaries of random data).
// `after` moves the rows' start across vector alignments (rotateRows starts at the first aligned
// vector and overlaps the unaligned ends).
void rowsCase(const KernelTable& isa, DType t, Style st, int64_t half, int64_t count, int64_t gap, int64_t after = 0,
              int64_t rowBlock = INT64_MAX) {
  const size_t sz = test::dtypeSize(t);
  const int64_t stride = 2 * half + gap, n = (count - 1) * stride + 2 * half + after;
  std::vector<uint8_t> in(size_t(n) * sz);
  for (size_t i = 0; i < size_t(n); ++i) randomElement(t, irand(0, 3) == 0, in.data(), i);
  std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
  for (int64_t j = 0; j < half; ++j) {
    double th = uniform(-4, 4);
    c[j] = float(std::cos(th)), s[j] = float(std::sin(th));
  }
  uint8_t* rows = gRow.place<uint8_t>(size_t(n) * sz);
  std::memcpy(rows, in.data(), in.size());
  float* cosP = gCos.place<float>(size_t(half));
  float* sinP = gSin.place<float>(size_t(half));
  std::memcpy(cosP, c.data(), c.size() * 4);
  std::memcpy(sinP, s.data(), s.size() * 4);
  isa.rotateRows[st][t](rows, stride * int64_t(sz), count, cosP, sinP, half, rowBlock);
  std::vector<uint8_t> want = in;
  for (int64_t r = 0; r < count; ++r) isa.rotate[st][t](want.data() + size_t(r * stride) * sz, c.data(), s.data(), half);
  check(std::memcmp(rows, want.data(), want.size()) == 0,
        std::string(isa.isa) + " rotateRows " + kStyleName[st] + " " + kDtypeName[t] + " half=" + std::to_string(half) +
            " count=" + std::to_string(count) + " gap=" + std::to_string(gap) + " after=" + std::to_string(after) +
            " rowBlock=" + std::to_string(rowBlock) + ": not rotate row by row");
}

// Rounding ties: 16-bit inputs whose exponents lie within 3 of each other, rotated by cos, sin in
// {+-1, +-0.5}, so x*c - y*s is exact in f32 and lands on half-ulp ties (also among f16
// subnormals). Every ISA must then give exactly the nearest-even encoding of the exact value.
void tieCase(const KernelTable& isa, DType t, Style st, int64_t half) {
  const size_t n = size_t(2 * half);
  std::vector<uint16_t> in(n);
  int e0 = t == kF16 ? int(irand(0, 27)) : int(irand(1, 250));
  for (auto& h : in) {
    uint16_t exp = uint16_t(e0 + irand(0, 3)), man = uint16_t(irand(0, t == kF16 ? 0x3FF : 0x7F));
    h = uint16_t((irand(0, 1) << 15) | (t == kF16 ? (exp << 10) | man : (exp << 7) | man));
  }
  std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
  for (int64_t j = 0; j < half; ++j) {
    c[j] = irand(0, 1) ? 1.0f : 0.5f;
    s[j] = (irand(0, 1) ? 1.0f : 0.5f) * (irand(0, 1) ? -1.0f : 1.0f);
  }
  uint16_t* row = gRow.place<uint16_t>(n);
  std::memcpy(row, in.data(), n * 2);
  isa.rotate[st][t](row, c.data(), s.data(), half);
  bool ok = true;
  for (int64_t j = 0; j < half && ok; ++j) {
    size_t ix = st == kHalf ? size_t(j) : size_t(2 * j), iy = st == kHalf ? size_t(j + half) : ix + 1;
    double x = decode(t, in.data(), ix), y = decode(t, in.data(), iy);
    uint16_t wx = test::encode16(t, x * c[j] - y * s[j]), wy = test::encode16(t, y * c[j] + x * s[j]);
    ok = row[ix] == wx && row[iy] == wy;
    if (!ok)
      std::fprintf(stderr, "  %s %s tie pair %lld: got 0x%04x 0x%04x want 0x%04x 0x%04x\n", isa.isa,
                   kDtypeName[t], (long long)j, row[ix], row[iy], wx, wy);
  }
  check(ok, std::string(isa.isa) + " ties " + kDtypeName[t] + " " + kStyleName[st] + " half=" + std::to_string(half));
}

// Bit for bit against round16(round64(x*c - y*s)) where f32-then-16-bit rounding used to fail:
// values at the top of the 16-bit range (the issue's f16 x=0xfb27, y=0xfa80 at position 3 became
// -inf), subnormals, +-0 and 16-bit ties, with cos/sin of small positions from the ISA's own
// cosSin (as the walk uses them), or +-1, +-0.5, 0.
void edge16Case(const KernelTable& isa, DType t, Style st, int64_t half) {
  const size_t n = size_t(2 * half);
  const uint16_t maxFinite = t == kF16 ? 0x7BFF : 0x7F7F, maxSub = t == kF16 ? 0x3FF : 0x7F;
  std::vector<uint16_t> in(n);
  for (auto& h : in) {
    uint16_t sign = uint16_t(irand(0, 1) << 15);
    switch (irand(0, 4)) {
      case 0: case 1: h = uint16_t(sign | (maxFinite - irand(0, 0x1FF))); break;  // near the top
      case 2: h = uint16_t(sign | irand(0, maxSub)); break;                       // subnormal, +-0
      case 3: h = uint16_t(sign | irand(maxSub + 1, 6 * (maxSub + 1))); break;    // smallest normals
      default: h = test::encode16(t, uniform(-4, 4)); break;
    }
  }
  std::vector<double> pos(static_cast<size_t>(half)), freq(static_cast<size_t>(half), 1.0);
  for (auto& p : pos) p = double(irand(0, 64));
  std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
  isa.cosSin(pos.data(), freq.data(), half, 1.0, irand(0, 1) ? 1.0 : -1.0, c.data(), s.data());
  for (int64_t j = 0; j < half; ++j)
    if (irand(0, 3) == 0) {
      const float pick[] = {1.0f, -1.0f, 0.5f, -0.5f, 0.0f};
      c[j] = pick[irand(0, 4)], s[j] = pick[irand(0, 4)];
    }
  uint16_t* row = gRow.place<uint16_t>(n);
  std::memcpy(row, in.data(), n * 2);
  isa.rotate[st][t](row, c.data(), s.data(), half);
  bool ok = true;
  for (int64_t j = 0; j < half && ok; ++j) {
    size_t ix = st == kHalf ? size_t(j) : size_t(2 * j), iy = st == kHalf ? size_t(j + half) : ix + 1;
    double x = decode(t, in.data(), ix), y = decode(t, in.data(), iy);
    double rx = x * c[j] - y * s[j], ry = y * c[j] + x * s[j];
    ok = jsBits(t, row, ix, rx) && jsBits(t, row, iy, ry);
    if (!ok)
      std::fprintf(stderr, "  %s %s edge pair %lld: x 0x%04x y 0x%04x c %a s %a: got 0x%04x 0x%04x want 0x%04x 0x%04x\n",
                   isa.isa, kDtypeName[t], (long long)j, in[ix], in[iy], c[j], s[j], row[ix], row[iy],
                   test::encode16(t, rx), test::encode16(t, ry));
  }
  check(ok, std::string(isa.isa) + " edge16 " + kDtypeName[t] + " " + kStyleName[st] + " half=" + std::to_string(half));
}

// Exact results within a few f32 ulps of a 16-bit rounding midpoint m (between neighbours, at the
// overflow threshold: 65520 for f16, and among f16 subnormals), above and below it: where a kernel
// that rounds through f32 first, or a fast path with too small a guard, gives the other neighbour.
// One pair in 6 has one output aimed (the others are ordinary, so a vector can pass a fast path's
// test while its aimed lane would round wrong): x, y drawn (sometimes 2^12 times larger than m:
// cancellation, where f32(y*s)'s own rounding error is many f32 ulps of the result), then for a
// free factor f (c, or s when aiming y') and its nearest f32 neighbours, the other one solved so
// x*c - y*s (or y*c + x*s) lands nearest m + k*ulp32(m)/2^q, preferring results that plain f32
// (an fma of one rounded product) puts on the other side of m. Also checks the aiming works.
float nextAfterBy(float f, int k) {  // k f32 steps along the bit pattern (k small, f finite)
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u = uint32_t(int64_t(u) + k);
  std::memcpy(&f, &u, 4);
  return f;
}

// The SIMD fast path's f32 value of one output (native/kernels/loops.h, at Grid16), in the
// test's own words: f16 r - (y*s's rounding error), bf16 with s split into its top 16 bits sh
// (y*sh exact) and the rest sl. aimY: y' = y*c + x*s instead of x' = x*c - y*s.
float fastR2(DType t, float x, float y, float c, float s, bool aimY) {
  const float sgn = aimY ? 1.0f : -1.0f, a = aimY ? y : x, b = aimY ? x : y;  // a*c + sgn*b*s
  if (t == kBF16) {
    uint32_t u;
    std::memcpy(&u, &s, 4);
    u &= 0xFFFFFF00u;
    float sh;
    std::memcpy(&sh, &u, 4);
    const float sl = s - sh;
    return std::fma(sgn * b, sl, std::fma(a, c, sgn * (b * sh)));
  }
  const float p = b * s, ep = std::fma(b, s, -p);
  return std::fma(a, c, sgn * p) + sgn * ep;
}

// Its distance in f32 bit patterns from the nearest 16-bit midpoint (f16: |r| >= 2^-14; bf16:
// normal), or 99 outside that range.
int midpointOffset(DType t, float r) {
  uint32_t u;
  std::memcpy(&u, &r, 4);
  u &= 0x7FFFFFFFu;
  const uint32_t mask = t == kF16 ? 0x1FFFu : 0xFFFFu, mid = t == kF16 ? 0x1000u : 0x8000u;
  if (u < (t == kF16 ? 0x38800000u : 0x00800000u) || u >= 0x7F800000u) return 99;
  return int(u & mask) - int(mid);
}

void midpointCase(const KernelTable& isa, DType t, Style st, int64_t half, bool viaRows = false) {
  const size_t n = size_t(2 * half);
  const uint16_t maxFinite = t == kF16 ? 0x7BFF : 0x7F7F;
  std::vector<uint16_t> in(n);
  std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
  std::vector<double> target(static_cast<size_t>(half), NAN);
  std::vector<int> aimY(static_cast<size_t>(half));
  auto dec = [t](uint16_t h) { return t == kF16 ? test::decodeF16(h) : test::decodeBF16(h); };
  for (int64_t j = 0; j < half; ++j) {
    size_t ix = st == kHalf ? size_t(j) : size_t(2 * j), iy = st == kHalf ? size_t(j + half) : ix + 1;
    if (irand(0, 5) != 0) {
      in[ix] = test::encode16(t, uniform(-4, 4));
      in[iy] = test::encode16(t, uniform(-4, 4));
      c[j] = float(uniform(-1, 1)), s[j] = float(uniform(-1, 1));
      continue;
    }
    uint16_t v = irand(0, 5) == 0 ? maxFinite : uint16_t(irand(1, maxFinite - 1));
    if (t == kF16 && irand(0, 5) == 0) v = uint16_t(irand(0, 0x3FF));  // subnormal midpoints
    double m = v == maxFinite ? (t == kF16 ? 65520.0 : std::ldexp(255.5 / 128, 127)) : (dec(v) + dec(uint16_t(v + 1))) / 2;
    if (irand(0, 1)) m = -m;
    int e;
    std::frexp(m, &e);
    const double u32 = std::ldexp(1.0, std::max(e - 24, -149));
    const double want = m + double(irand(-6, 6)) * u32 / double(1 << irand(0, 3));
    const double big = std::ldexp(1.0, int(irand(0, 1) ? 0 : irand(1, 12)));
    const double lim = t == kF16 ? 65504.0 : 3.3e38;
    auto draw = [&]() { return test::encode16(t, std::min(lim, std::fabs(m) * uniform(0.25, 1) * big) * (irand(0, 1) ? 1 : -1)); };
    in[ix] = draw();
    in[iy] = draw();
    const double x = dec(in[ix]), y = dec(in[iy]);
    aimY[j] = int(irand(0, 1));
    if (y == 0 || x == 0) { c[j] = 1, s[j] = 0.5f; continue; }
    float f0 = float(uniform(-1, 1)), bestF = f0, bestG = 0;
    double bestScore = INFINITY;
    const int reach = big > 16 ? 512 : 32;  // large products: a coarser grid of results
    for (int k = -reach; k <= reach; ++k) {
      float f = nextAfterBy(f0, k);
      float g = float(aimY[j] ? (want - x * f) / y : (x * f - want) / y);
      for (int d = -1; d <= 1; ++d) {
        float gd = nextAfterBy(g, d);
        double r = aimY[j] ? y * gd + x * f : x * f - y * gd;
        float r1 = aimY[j] ? std::fma(float(y), gd, float(x) * f) : std::fma(float(x), f, -(float(y) * gd));
        double score = std::fabs(r - want) + ((double(r1) - m) * (r - m) < 0 ? 0 : 4 * u32);
        if (score < bestScore) bestScore = score, bestF = f, bestG = gd;
      }
    }
    c[j] = aimY[j] ? bestG : bestF;
    s[j] = aimY[j] ? bestF : bestG;
    target[j] = m;
  }
  uint16_t* row = gRow.place<uint16_t>(n);
  std::memcpy(row, in.data(), n * 2);
  if (viaRows)  // rotateGroup's fast path decides for a whole group of vectors at once
    isa.rotateRows[st][t](row, int64_t(n) * 2, 1, c.data(), s.data(), half, INT64_MAX);
  else
    isa.rotate[st][t](row, c.data(), s.data(), half);
  bool ok = true;
  for (int64_t j = 0; j < half && ok; ++j) {
    size_t ix = st == kHalf ? size_t(j) : size_t(2 * j), iy = st == kHalf ? size_t(j + half) : ix + 1;
    double x = decode(t, in.data(), ix), y = decode(t, in.data(), iy);
    double rx = x * c[j] - y * s[j], ry = y * c[j] + x * s[j];
    if (!std::isnan(target[j]) && !viaRows) {
      int e;
      std::frexp(target[j], &e);
      ++gMidAimed;
      gMidNear += std::fabs((aimY[j] ? ry : rx) - target[j]) <= 4 * std::ldexp(1.0, std::max(e - 24, -149));
      const int d = midpointOffset(t, fastR2(t, float(x), float(y), c[j], s[j], aimY[j] != 0));
      if (d >= -8 && d <= 8) ++gMidOffset[t == kF16 ? 0 : 1][d + 8];
    }
    ok = jsBits(t, row, ix, rx) && jsBits(t, row, iy, ry);
    if (!ok)
      std::fprintf(stderr, "  %s %s midpoint pair %lld: x 0x%04x y 0x%04x c %a s %a: got 0x%04x 0x%04x want 0x%04x 0x%04x\n",
                   isa.isa, kDtypeName[t], (long long)j, in[ix], in[iy], c[j], s[j], row[ix], row[iy],
                   test::encode16(t, rx), test::encode16(t, ry));
  }
  check(ok, std::string(isa.isa) + (viaRows ? " rotateRows" : "") + " midpoint " + kDtypeName[t] + " " + kStyleName[st] +
                " half=" + std::to_string(half));
}

// Heavy cancellation: x*c and y*s (or y*c and -x*s) equal to within 2^-8..2^-30 of themselves, so
// f32(y*s)'s rounding error is up to 2^6 times the result and x*c - f32(y*s) is often exact: the
// fast 16-bit path's error bound (loops.h) rests on exactly that, with no test of its own.
void cancelCase(const KernelTable& isa, DType t, Style st, int64_t half, bool viaRows) {
  const size_t n = size_t(2 * half);
  std::vector<uint16_t> in(n);
  std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
  for (int64_t j = 0; j < half; ++j) {
    size_t ix = st == kHalf ? size_t(j) : size_t(2 * j), iy = st == kHalf ? size_t(j + half) : ix + 1;
    const double scale = std::ldexp(1.0, int(irand(t == kF16 ? -6 : -60, t == kF16 ? 6 : 60)));
    in[ix] = test::encode16(t, uniform(-1, 1) * scale);
    in[iy] = test::encode16(t, uniform(-1, 1) * scale);
    const double x = decode(t, in.data(), ix), y = decode(t, in.data(), iy);
    const float f = float(uniform(-1, 1));
    const double rel = std::ldexp(uniform(-1, 1), -int(irand(8, 30)));
    float g = 0;
    if (x != 0 && y != 0) g = float(irand(0, 1) ? (y * f) * (1 + rel) / x : -(x * f) * (1 + rel) / y);
    // irand picked which output cancels: x' = x*c - y*s with c = g, s = f, or y' = y*c + x*s
    // with s = g, c = f.
    if (std::fabs(double(g) * x) > 0 && std::fabs(y * f) > 0 && std::fabs(double(g) * x - y * f) < std::fabs(y * f) / 64)
      c[j] = g, s[j] = f;
    else
      c[j] = f, s[j] = g;
  }
  uint16_t* row = gRow.place<uint16_t>(n);
  std::memcpy(row, in.data(), n * 2);
  if (viaRows)
    isa.rotateRows[st][t](row, int64_t(n) * 2, 1, c.data(), s.data(), half, INT64_MAX);
  else
    isa.rotate[st][t](row, c.data(), s.data(), half);
  bool ok = true;
  for (int64_t j = 0; j < half && ok; ++j) {
    size_t ix = st == kHalf ? size_t(j) : size_t(2 * j), iy = st == kHalf ? size_t(j + half) : ix + 1;
    double x = decode(t, in.data(), ix), y = decode(t, in.data(), iy);
    double rx = x * c[j] - y * s[j], ry = y * c[j] + x * s[j];
    ok = jsBits(t, row, ix, rx) && jsBits(t, row, iy, ry);
    if (!ok)
      std::fprintf(stderr, "  %s %s cancel pair %lld: x 0x%04x y 0x%04x c %a s %a: got 0x%04x 0x%04x want 0x%04x 0x%04x\n",
                   isa.isa, kDtypeName[t], (long long)j, in[ix], in[iy], c[j], s[j], row[ix], row[iy],
                   test::encode16(t, rx), test::encode16(t, ry));
  }
  check(ok, std::string(isa.isa) + (viaRows ? " rotateRows" : "") + " cancel " + kDtypeName[t] + " " + kStyleName[st] +
                " half=" + std::to_string(half));
}

// The issue's case: f16 x=0xfb27 (-58592), y=0xfa80 (-53248) at position 3, headDim 2 (invFreq 1).
// Double rounding made x' +inf; the exactly rounded value is the largest finite f16, 65504.
void issueCase(const KernelTable& isa) {
  double pos = 3, freq = 1;
  float c, s;
  isa.cosSin(&pos, &freq, 1, 1.0, 1.0, &c, &s);
  for (int st = 0; st < kStyleCount; ++st) {
    uint16_t row[2] = {0xfb27, 0xfa80};
    isa.rotate[st][kF16](row, &c, &s, 1);
    double x = test::decodeF16(0xfb27), y = test::decodeF16(0xfa80);
    uint16_t wx = test::encode16(kF16, x * c - y * s), wy = test::encode16(kF16, y * c + x * s);
    check(wx == 0x7bff && row[0] == wx && row[1] == wy,
          std::string(isa.isa) + " issue case " + kStyleName[st] + ": got " + std::to_string(row[0]) +
              " " + std::to_string(row[1]) + " want " + std::to_string(wx) + " " + std::to_string(wy));
  }
}

// f32 data so small that x*c and y*s underflow in f32: wherever a kernel's result is +-0 it must
// be round32(round64(x*c - y*s)) with that value's sign (native gave +0 where JS gave -0).
void f32ZeroCase(const KernelTable& isa, Style st, int64_t half, bool viaRows = false) {
  const size_t n = size_t(2 * half);
  std::vector<float> in(n);
  for (auto& v : in) {
    uint32_t u = uint32_t(irand(0, 1) << 31) | uint32_t(irand(0, 3) == 0 ? 0 : irand(1, 64));
    std::memcpy(&v, &u, 4);
  }
  std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
  for (int64_t j = 0; j < half; ++j) c[j] = float(uniform(-1, 1)), s[j] = float(uniform(-1, 1));
  float* row = gRow.place<float>(n);
  std::memcpy(row, in.data(), n * 4);
  if (viaRows)  // rotateRows checks a whole group of vectors for +-0 at once
    isa.rotateRows[st][kF32](row, 2 * half * 4, 1, c.data(), s.data(), half, INT64_MAX);
  else
    isa.rotate[st][kF32](row, c.data(), s.data(), half);
  bool ok = true;
  for (int64_t j = 0; j < half && ok; ++j) {
    size_t ix = st == kHalf ? size_t(j) : size_t(2 * j), iy = st == kHalf ? size_t(j + half) : ix + 1;
    double x = in[ix], y = in[iy];
    const bool scalar = std::strcmp(isa.isa, "scalar") == 0;
    ok = jsBits(kF32, row, ix, f32X(x, y, c[j], s[j]), scalar) && jsBits(kF32, row, iy, f32Y(x, y, c[j], s[j]), scalar);
    if (!ok)
      std::fprintf(stderr, "  %s f32 zero pair %lld: x %a y %a c %a s %a: got %a %a want %a %a\n", isa.isa,
                   (long long)j, x, y, c[j], s[j], row[ix], row[iy], float(f32X(x, y, c[j], s[j])),
                   float(f32Y(x, y, c[j], s[j])));
  }
  check(ok, std::string(isa.isa) + (viaRows ? " rotateRows" : "") + " f32 signed zeros " + kStyleName[st] +
                " half=" + std::to_string(half));
}

// Scale: every ISA bit-identical to scalar (NaN: both NaN) and to the f32 product rounded to the
// dtype by this file's own encoder.
void scaleCase(const KernelTable& isa, const KernelTable& ref, DType t, int64_t n, float factor) {
  const size_t sz = test::dtypeSize(t);
  std::vector<uint8_t> in(size_t(n) * sz);
  for (size_t i = 0; i < size_t(n); ++i) randomElement(t, true, in.data(), i);
  uint8_t* data = gRow.place<uint8_t>(in.size());
  std::memset(data - 64, 0xA5, 64);
  std::memcpy(data, in.data(), in.size());
  isa.scale[t](data, n, factor);
  std::vector<uint8_t> want = in;
  ref.scale[t](want.data(), n, factor);
  std::string name = std::string(isa.isa) + " scale " + kDtypeName[t] + " n=" + std::to_string(n);
  bool ok = true;
  for (int i = 0; i < 64; ++i) ok = ok && data[i - 64] == 0xA5;
  for (size_t i = 0; i < size_t(n) && ok; ++i) {
    double got = decode(t, data, i), w = decode(t, want.data(), i);
    float product = float(decode(t, in.data(), i) * double(factor));
    double mine = t == kF32 ? double(product) : decode(t, std::vector<uint16_t>{test::encode16(t, product)}.data(), 0);
    bool nan = std::isnan(got);
    ok = nan ? (std::isnan(w) && std::isnan(mine))
             : (std::memcmp(data + i * sz, want.data() + i * sz, sz) == 0 && got == mine &&
                std::signbit(got) == std::signbit(mine));
    if (!ok) std::fprintf(stderr, "  %s [%zu]: got %.9g scalar %.9g expected %.9g\n", name.c_str(), i, got, w, mine);
  }
  check(ok, name);
}

// Every 16-bit pattern through scale(1): finite and infinite values unchanged, NaN stays NaN with
// its payload and the quiet bit set.
void roundTrip16(const KernelTable& isa, DType t) {
  std::vector<uint16_t> all(65536);
  for (uint32_t i = 0; i < 65536; ++i) all[i] = uint16_t(i);
  uint16_t* data = gRow.place<uint16_t>(all.size() / 2);  // arena is 64 KiB: two halves
  bool ok = true;
  for (int part = 0; part < 2; ++part) {
    std::memcpy(data, all.data() + part * 32768, 65536);
    isa.scale[t](data, 32768, 1.0f);
    for (uint32_t k = 0; k < 32768 && ok; ++k) {
      uint16_t in = all[part * 32768 + k], quiet = t == kF16 ? 0x0200 : 0x0040;
      bool nan = std::isnan(t == kF16 ? test::decodeF16(in) : test::decodeBF16(in));
      ok = data[k] == (nan ? uint16_t(in | quiet) : in);
      if (!ok) std::fprintf(stderr, "  %s %s 0x%04x -> 0x%04x\n", isa.isa, kDtypeName[t], in, data[k]);
    }
  }
  check(ok, std::string(isa.isa) + " " + kDtypeName[t] + " exhaustive round trip");
}

// cos/sin of pos*f to long double: exact product hi+lo, reduction by pi/2 split into 32-bit parts
// (k*P1, k*P2 exact for k < 2^31), then sinl/cosl on |r| <= pi/4. Independent of sincos.h.
void refSinCos(double pos, double f, long double* sinOut, long double* cosOut) {
  const long double P1 = 0x1.921fb544p+0L, P2 = 0x1.0b4611a6p-34L, P3 = 0x1.3198a2e03707344ap-69L;
  double hi = pos * f, lo = std::fma(pos, f, -hi);
  long double k = nearbyintl(hi / (P1 + P2));
  long double r = (((long double)hi - k * P1) - k * P2) - k * P3 + lo;
  long double s = sinl(r), c = cosl(r);
  switch (int64_t(k) & 3) {
    case 0: *sinOut = s, *cosOut = c; break;
    case 1: *sinOut = c, *cosOut = -s; break;
    case 2: *sinOut = -s, *cosOut = -c; break;
    default: *sinOut = -c, *cosOut = s; break;
  }
}

bool withinOneUlp(float got, long double want) {
  float t = float(want);
  return got == t || got == std::nextafter(t, INFINITY) || got == std::nextafter(t, -INFINITY);
}

struct CosSinStats { long exact = 0, total = 0, sameAsScalar = 0; };

void cosSinCase(const KernelTable& isa, const KernelTable& ref, int64_t n, CosSinStats* st) {
  static const double kPositions[] = {0, 1, 2, 4095, 16777215, 16777217, 1073741824.0 + 12345,
                                      2147483647, 2147483646, 1e9, 123456789};
  std::vector<double> pos(static_cast<size_t>(n)), freq(static_cast<size_t>(n));
  bool samePos = irand(0, 3) != 0;
  double p0 = irand(0, 2) ? kPositions[irand(0, 10)] : double(irand(0, 2147483647));
  double base = std::vector<double>{10000, 500000, 1e6}[size_t(irand(0, 2))];
  double factor = irand(0, 2) ? 1.0 : uniform(0.05, 1.0);
  for (int64_t j = 0; j < n; ++j) {
    pos[j] = samePos ? p0 : double(irand(0, 2147483647));
    freq[j] = factor * std::pow(base, -double(j) / double(n));
  }
  double scale = irand(0, 1) ? 1.0 : uniform(0.5, 1.5), sinScale = irand(0, 1) ? scale : -scale;
  double* posP = gPos.place<double>(size_t(n));
  double* freqP = gFreq.place<double>(size_t(n));
  std::memcpy(posP, pos.data(), size_t(n) * 8);
  std::memcpy(freqP, freq.data(), size_t(n) * 8);
  float* cosP = gCos.place<float>(size_t(n));
  float* sinP = gSin.place<float>(size_t(n));
  std::memset(reinterpret_cast<uint8_t*>(cosP) - 64, 0xA5, 64);
  isa.cosSin(posP, freqP, n, scale, sinScale, cosP, sinP);
  std::vector<float> wc(static_cast<size_t>(n)), ws(static_cast<size_t>(n));
  ref.cosSin(pos.data(), freq.data(), n, scale, sinScale, wc.data(), ws.data());
  std::string name = std::string(isa.isa) + " cosSin n=" + std::to_string(n);
  bool ok = true;
  for (int i = 0; i < 64; ++i) ok = ok && reinterpret_cast<uint8_t*>(cosP)[i - 64] == 0xA5;
  for (int64_t j = 0; j < n; ++j) {
    long double s, c;
    refSinCos(pos[j], freq[j], &s, &c);
    long double rc = c * scale, rs = s * sinScale;
    bool good = withinOneUlp(cosP[j], rc) && withinOneUlp(sinP[j], rs) &&
                withinOneUlp(cosP[j], wc[j]) && withinOneUlp(sinP[j], ws[j]);
    st->total += 2;
    st->exact += (cosP[j] == float(rc)) + (sinP[j] == float(rs));
    st->sameAsScalar += (cosP[j] == wc[j]) + (sinP[j] == ws[j]);
    if (!good && ok)
      std::fprintf(stderr, "  %s pos=%.17g f=%.17g: cos %.9g (ref %.9Lg, scalar %.9g) sin %.9g (ref %.9Lg, scalar %.9g)\n",
                   name.c_str(), pos[j], freq[j], cosP[j], rc, wc[j], sinP[j], rs, ws[j]);
    ok = ok && good;
  }
  check(ok, name);
}

// A call past walk.cc's streaming threshold (32 MiB), with a cos/sin cache and q, k dense per
// token, walks kChunkTokens tokens' q rows and then their k rows: it must give the same bytes as
// the token-by-token walk of the same plan without a cache, also when split into token ranges that
// cut chunks (as threads do), and touch nothing past the rows.
void walkChunkCase(const KernelTable& isa, DType t, Style st) {
  const int64_t headDim = 128, half = 64, qHeads = 4, kHeads = 4, tokens = 8203 + irand(0, 30);
  const size_t sz = test::dtypeSize(t);
  const int64_t n = t == kF32 ? tokens : 2 * tokens;  // 16-bit: twice the tokens to pass 32 MiB
  std::vector<double> invFreq(static_cast<size_t>(half));
  for (int64_t j = 0; j < half; ++j) invFreq[size_t(j)] = std::pow(500000.0, -double(j) / double(half));
  auto fill = [&](std::vector<uint8_t>& v, int64_t elems) {
    v.resize(size_t(elems) * sz + 64);
    for (size_t i = 0; i < v.size() / sz; ++i) randomElement(t, false, v.data(), i);
  };
  std::vector<uint8_t> q0, k0;
  fill(q0, n * qHeads * headDim);
  fill(k0, n * kHeads * headDim);
  std::vector<uint8_t> qa = q0, ka = k0, qb = q0, kb = k0;
  const int64_t offset = irand(0, 100);
  auto plan = [&](std::vector<uint8_t>& q, std::vector<uint8_t>& k) {
    Plan p;
    p.kernels = &isa;
    p.geo.headDim = headDim;
    p.geo.rotaryDim = 2 * half;
    p.geo.style = st;
    p.batch = 1;
    p.tokens = n;
    p.positionOffset = offset;
    p.invFreq = invFreq.data();
    p.hasK = true;
    p.q.data = q.data(), p.q.length = n * qHeads * headDim, p.q.dtype = t, p.q.heads = qHeads;
    p.q.tokenStride = qHeads * headDim, p.q.headStride = headDim, p.q.batchStride = n * qHeads * headDim;
    p.k.data = k.data(), p.k.length = n * kHeads * headDim, p.k.dtype = t, p.k.heads = kHeads;
    p.k.tokenStride = kHeads * headDim, p.k.headStride = headDim, p.k.batchStride = n * kHeads * headDim;
    return p;
  };
  Plan ref = plan(qa, ka);
  walk(ref);  // no cache: token by token
  Plan p = plan(qb, kb);
  auto budget = std::make_shared<std::atomic<int64_t>>(0);
  CosSinTable cache(&isa, invFreq.data(), half, 1.0, budget);
  p.cache = &cache;
  const int64_t cut = irand(1, n - 1);  // two ranges, as two threads would split it
  walkRange(p, 0, cut);
  walkRange(p, cut, n);
  check(qa == qb && ka == kb, std::string(isa.isa) + " walk in chunks " + kDtypeName[t] + " " + kStyleName[st] +
                                  " tokens=" + std::to_string(n) + " cut=" + std::to_string(cut) +
                                  ": not the token-by-token result");
  bool untouched = std::memcmp(qb.data() + size_t(n * qHeads * headDim) * sz, q0.data() + size_t(n * qHeads * headDim) * sz, 64) == 0 &&
                   std::memcmp(kb.data() + size_t(n * kHeads * headDim) * sz, k0.data() + size_t(n * kHeads * headDim) * sz, 64) == 0;
  check(untouched && qb != q0, std::string(isa.isa) + " walk in chunks: rotated, nothing past the rows");
}

void dispatchTests() {
  std::vector<std::string> isas = supportedIsas();
  check(!isas.empty() && isas.back() == "scalar", "supportedIsas ends with scalar");
  check(isas.front() == activeKernels().isa, "default is the best supported ISA");
  std::string err;
#if defined(__x86_64__)
  check(!selectKernels("neon", &err) && err.find("neon") != std::string::npos, "neon refused on x86: " + err);
#else
  check(!selectKernels("avx2", &err) && err.find("avx2") != std::string::npos, "avx2 refused on arm: " + err);
#endif
  check(!selectKernels("sse9", &err) && err.find("sse9") != std::string::npos, "unknown ISA refused: " + err);
  for (const std::string& name : isas) {
    check(selectKernels(name.c_str(), &err) && name == activeKernels().isa, "select " + name);
  }
  check(selectKernels(nullptr, &err) && isas.front() == activeKernels().isa, "select best again");
  // Each kernel file's table names itself as its registry line does (the name lib and users see).
#define ROPE_ISA(name, table, cpu) \
  check(table().isa == nullptr || std::string(table().isa) == #name, "table " #table " is " #name);
#include "../../native/kernels/isas.def"
#undef ROPE_ISA
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20240601;
  gRng.seed(seed);
  dispatchTests();
  const KernelTable& scalar = scalarKernels();
  std::vector<const KernelTable*> tables;
  for (const std::string& name : supportedIsas()) tables.push_back(findKernels(name.c_str(), nullptr));
  const KernelTable* compiled[] = {
#define ROPE_ISA(name, table, cpu) &table(),
#include "../../native/kernels/isas.def"
#undef ROPE_ISA
  };
  for (const KernelTable* t : compiled) {
    bool runs = false;
    for (const KernelTable* r : tables) runs = runs || r == t;
    if (t->isa != nullptr && !runs) std::printf("note: %s compiled in but this CPU cannot run it\n", t->isa);
  }
  std::string list;
  for (const KernelTable* t : tables) list += std::string(" ") + t->isa;
  std::printf("seed %llu, testing:%s\n", (unsigned long long)seed, list.c_str());

  for (const KernelTable* t : tables) {
    roundTrip16(*t, kF16);
    roundTrip16(*t, kBF16);
    for (int d = 0; d < kDTypeCount; ++d)
      for (int64_t n = 1; n <= 70; ++n) {
        float factor = irand(0, 3) == 0 ? 1.0f : float(uniform(-2, 2) * std::ldexp(1.0, int(irand(-20, 12))));
        scaleCase(*t, scalar, DType(d), n, factor);
      }
    for (int st = 0; st < kStyleCount; ++st)
      for (int d = 0; d < kDTypeCount; ++d)
        for (int64_t half = 1; half <= 70; ++half)  // every half mod 16 several times over
          for (int rep = 0; rep < 3; ++rep)
            rotateCase(*t, scalar, DType(d), Style(st), half, rep == 0 ? 0 : irand(1, 9), rep == 2);
    for (int st = 0; st < kStyleCount; ++st)
      for (int d = 0; d < kDTypeCount; ++d)
        for (int64_t half = 1; half <= 70; ++half)  // register-held cos/sin for 1..4 whole vectors
          rowsCase(*t, DType(d), Style(st), half, irand(1, 20), irand(0, 1) ? 0 : irand(1, 40), 0,
                   irand(0, 1) ? INT64_MAX : irand(0, 1) ? irand(1, 4) : 8);  // walk.cc's 2 and 8
    // Strides that keep every row at the same offset from a 64-byte boundary, at every offset.
    for (int st = 0; st < kStyleCount; ++st)
      for (int d = 0; d < kDTypeCount; ++d)
        for (int64_t half = 1; half <= 72; ++half) {
          const int64_t per64 = 64 / int64_t(test::dtypeSize(DType(d)));
          const int64_t gap = (per64 - (2 * half) % per64) % per64;
          for (int64_t after = 0; after < per64; ++after)
            rowsCase(*t, DType(d), Style(st), half, irand(1, 5), gap, after, irand(0, 1) ? INT64_MAX : irand(1, 3));
        }
    for (int st = 0; st < kStyleCount; ++st)
      for (int64_t half = 1; half <= 40; ++half)
        for (int rep = 0; rep < 4; ++rep) {
          tieCase(*t, kF16, Style(st), half);
          tieCase(*t, kBF16, Style(st), half);
        }
    issueCase(*t);
    for (int st = 0; st < kStyleCount; ++st)
      for (int64_t half = 1; half <= 40; ++half)
        for (int rep = 0; rep < 4; ++rep) {
          edge16Case(*t, kF16, Style(st), half);
          edge16Case(*t, kBF16, Style(st), half);
          f32ZeroCase(*t, Style(st), half);
          f32ZeroCase(*t, Style(st), half, true);
        }
    gMidAimed = gMidNear = 0;
    std::memset(gMidOffset, 0, sizeof gMidOffset);
    for (int st = 0; st < kStyleCount; ++st)
      for (int64_t half = 1; half <= 40; ++half)
        for (int rep = 0; rep < 24; ++rep) {
          midpointCase(*t, kF16, Style(st), half);
          midpointCase(*t, kBF16, Style(st), half);
        }
    for (int st = 0; st < kStyleCount; ++st)
      for (int64_t half = 1; half <= 70; ++half)
        for (int rep = 0; rep < 8; ++rep) {
          midpointCase(*t, kF16, Style(st), half, true);
          midpointCase(*t, kBF16, Style(st), half, true);
          cancelCase(*t, kF16, Style(st), half, rep % 2 == 0);
          cancelCase(*t, kBF16, Style(st), half, rep % 2 == 0);
        }
    std::printf("%s midpoints: %lld of %lld aimed pairs within 4 f32 ulps of a 16-bit midpoint\n", t->isa,
                (long long)gMidNear, (long long)gMidAimed);
    // Both sides of the fast path's windows (loops.h: the proof's [-near, near], the word test's
    // [-W, W), W = 2 for f16 and 4 for bf16) with results checked there.
    for (int k = 0; k < 2; k++) {
      std::printf("%s midpoints, %s aimed outputs whose fast-path value is d = -8..8 f32 patterns from one:", t->isa,
                  k == 0 ? "f16" : "bf16");
      bool covered = true;
      for (int d = 0; d < 17; d++) {
        std::printf(" %lld", (long long)gMidOffset[k][d]);
        covered = covered && (d < 2 || d > 14 || gMidOffset[k][d] >= 40);
      }
      std::printf("\n");
      check(covered, std::string(t->isa) + " midpointCase lands " + (k == 0 ? "f16" : "bf16") + " fast-path values at every d in -6..6");
    }
    check(gMidNear * 4 > gMidAimed * 3, std::string(t->isa) + " midpointCase aims near midpoints");
    {  // 33-66 MiB each: one style per dtype (drawn), so qemu's run stays short
      const int st = int(irand(0, 1));
      walkChunkCase(*t, kF32, Style(st));
      walkChunkCase(*t, kBF16, Style(1 - st));
    }
    CosSinStats stats;
    for (int64_t n = 1; n <= 70; ++n)
      for (int rep = 0; rep < 4; ++rep) cosSinCase(*t, scalar, n, &stats);
    std::printf("%s cosSin: %ld/%ld values correctly rounded, %ld identical to scalar, rest within 1 ulp\n",
                t->isa, stats.exact, stats.total, stats.sameAsScalar);
  }
  std::printf("%ld passed, %ld failed\n", gPassed, gFailed);
  return gFailed == 0 ? 0 : 1;
}
