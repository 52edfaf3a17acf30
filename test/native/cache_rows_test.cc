// The cache write's row kernels (native/kernels/cache_rows.h) on every ISA this CPU runs, bit for
// bit against an exact reference of this file's own: products as 128-bit integers times a power of
// two, summed exactly, rounded once to nearest-even by integer arithmetic (no floating-point
// rounding, no dtype.h). Rows end at a guard page (a write or read past them faults); k is
// checked unchanged. Rows aimed at the hard cases: an f32 k whose exact rotation lies just off a
// 16-bit rounding midpoint that round64 lands on (rounding via double would tie), and one just
// off an f32 midpoint (the f32 cache's FMA value, which the scalar and wasm tables compute by
// the exact method). Usage: cache_rows_test [seed]
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../../native/dispatch.h"
#include "../../native/kernels/cache_kernels.h"
#include "test_util.h"

using namespace rope;

namespace {

std::mt19937_64 gRng;
double uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(gRng); }
int64_t irand(int64_t a, int64_t b) { return std::uniform_int_distribution<int64_t>(a, b)(gRng); }
int gFailures = 0;
int64_t gHard16 = 0, gHard32 = 0;  // reference results where rounding via double would differ

using i128 = __int128;
using u128 = unsigned __int128;

// v = m * 2^e exactly, m odd or 0 (v a finite double).
struct Exact {
  i128 m;
  int e;
};
Exact exactOf(double v) {
  if (v == 0) return {0, 0};
  int e = 0;
  const double f = std::frexp(v, &e);
  int64_t m = int64_t(std::ldexp(f, 53));
  e -= 53;
  while ((m & 1) == 0) {
    m >>= 1;
    e++;
  }
  return {i128(m), e};
}
Exact mul(Exact a, Exact b) { return {a.m * b.m, a.e + b.e}; }
Exact add(Exact a, Exact b) {
  if (a.m == 0) return b;
  if (b.m == 0) return a;
  if (a.e < b.e) std::swap(a, b);
  const int d = a.e - b.e;
  int bits = 0;
  for (u128 t = a.m < 0 ? u128(-a.m) : u128(a.m); t != 0; t >>= 1) bits++;
  if (bits + d > 125) {
    std::fprintf(stderr, "test data out of the reference's range (exponent gap %d)\n", d);
    std::exit(2);
  }
  return {a.m * (i128(1) << d) + b.m, b.e};
}

struct Fmt {
  int p, emin, emax;  // significant bits, least normal exponent, greatest exponent
};
constexpr Fmt kFmtF32{24, -126, 127}, kFmtF16{11, -14, 15}, kFmtBF16{8, -126, 127}, kFmtF64{53, -1022, 1023};
Fmt fmtOf(DType d) { return d == kF32 ? kFmtF32 : d == kF16 ? kFmtF16 : kFmtBF16; }

// x rounded once to nearest-even in fmt, as a double (+-inf past the range); zeroSign: the sign
// an exact zero gets.
double roundTo(Exact x, Fmt f, bool zeroNegative = false) {
  if (x.m == 0) return zeroNegative ? -0.0 : 0.0;
  const bool neg = x.m < 0;
  u128 m = neg ? u128(-x.m) : u128(x.m);
  int bits = 0;
  for (u128 t = m; t != 0; t >>= 1) bits++;
  const int e = x.e + bits - 1;  // |x| in [2^e, 2^(e+1))
  const int q = std::max(e, f.emin) - (f.p - 1);  // the quantum's exponent
  int outE = x.e;
  if (q > x.e) {
    const int shift = q - x.e;
    u128 keep = shift >= 128 ? 0 : m >> shift;
    const u128 rem = shift >= 128 ? m : m - (keep << shift);
    const u128 halfQ = shift > 128 ? ~u128(0) : u128(1) << (shift - 1);
    if (rem > halfQ || (rem == halfQ && shift <= 128 && (keep & 1))) keep++;
    m = keep;
    outE = q;
  }
  double r = std::ldexp(double(uint64_t(m)), outE);  // m < 2^54 here: exact
  if (r >= std::ldexp(1.0, f.emax + 1)) r = INFINITY;
  return neg ? -r : r;
}

void store(DType d, void* p, int64_t i, double v) {
  if (d == kF32) static_cast<float*>(p)[i] = float(v);  // v is an f32 value: exact
  else static_cast<uint16_t*>(p)[i] = test::encode16(d, v);
}

// The expected cache element of one output of a pair (docs/guide/kv-cache.md): first x*c - y*s, second
// y*c + x*s. An exact zero takes the sign IEEE addition gives it (both terms are exact doubles).
double expected(DType src, DType dst, double x, double c, double y, double s, bool first) {
  const double a = first ? x * c : y * c;  // exact in double
  const Exact xc = mul(exactOf(first ? x : y), exactOf(c));
  Exact ys = mul(exactOf(first ? y : x), exactOf(s));
  if (first) ys.m = -ys.m;
  if (dst == kF32) {
    const double r = roundTo(ys, kFmtF32);  // round32(y*s), then one rounding of the sum
    const Exact sum = add(xc, exactOf(r));
    if (sum.m == 0) return a + r;
    const double once = roundTo(sum, kFmtF32);
    if (once != double(float(roundTo(sum, kFmtF64)))) gHard32++;
    return once;
  }
  const Exact sum = add(xc, ys);
  if (sum.m == 0) return a + roundTo(ys, kFmtF64);
  const double via64 = roundTo(exactOf(roundTo(sum, kFmtF64)), fmtOf(dst));
  if (src != kF32) return via64;  // 16-bit k: round16(round64(e)), the in-place contract
  const double once = roundTo(sum, fmtOf(dst));
  if (once != via64) gHard16++;
  return once;
}

double randomValue(DType d) {
  double v = uniform(-1, 1) * std::ldexp(1.0, int(irand(-6, 6)));
  if (d == kF32) return double(float(v));
  return d == kF16 ? test::decodeF16(test::encode16(d, v)) : test::decodeBF16(test::encode16(d, v));
}

// A 16-bit rounding midpoint of dst near 1 (an f32 number), times a power of two.
double midpoint16(DType dst) {
  const int p = fmtOf(dst).p;
  double m = (double(irand(int64_t(1) << (p - 1), (int64_t(1) << p) - 1)) + 0.5) * std::ldexp(1.0, -(p - 1));
  m *= std::ldexp(1.0, int(irand(-3, 3)));
  // f16's subnormal range (below 2^-14): its midpoints are the odd multiples of 2^-25.
  if (dst == kF16 && irand(0, 3) == 0) m = double(2 * irand(0, 1023) + 1) * std::ldexp(1.0, -25);
  return irand(0, 1) ? -m : m;
}

// heads rows (each headDim elements, rows `stride` elements apart: a padded stride moves the
// cache rows' alignment from head to head) rotated in one call.
void rowCase(const CacheKernels& ck, const char* isa, Style st, DType src, DType dst, int64_t half, int64_t extra, bool hard,
             int64_t heads, int64_t pad) {
  const int64_t headDim = 2 * half + extra, stride = headDim + pad, n = (heads - 1) * stride + headDim;
  // k at its guard page, or half the time up to 4 KiB before it: k and the cache rows then sit at
  // every distance modulo 4 KiB (the kernels choose their head order by it).
  // (its own generator: the data's stream stays the one every seed was checked with)
  static std::mt19937_64 shiftRng(7);
  const size_t shift = shiftRng() % 2 ? 0 : size_t(shiftRng() % 1024) * 4;
  test::Guarded gs(size_t(n) * 4 + 64 + shift), gd(size_t(n) * 4 + 64);
  void* in = src == kF32 ? static_cast<void*>(gs.place<float>(size_t(n) + shift / 4)) : gs.place<uint16_t>(size_t(n) + shift / 2);
  void* out = dst == kF32 ? static_cast<void*>(gd.place<float>(size_t(n))) : gd.place<uint16_t>(size_t(n));
  std::vector<float> cos(static_cast<size_t>(half)), sin(static_cast<size_t>(half));
  std::vector<double> vals(static_cast<size_t>(n));
  for (int64_t j = 0; j < half; j++) {
    cos[size_t(j)] = float(uniform(-1, 1));
    sin[size_t(j)] = float(uniform(-1, 1));
  }
  for (int64_t h = 0; h < heads; h++) {
    double* hv = vals.data() + h * stride;
    for (int64_t j = 0; j < half; j++) {
      const int64_t ix = st == kHalf ? j : 2 * j, iy = st == kHalf ? j + half : 2 * j + 1;
      double x = randomValue(src), y = randomValue(src);
      float& c = cos[size_t(j)];
      float& s = sin[size_t(j)];
      if (h == 0 && hard && src == kF32 && irand(0, 1) == 0) {
        // x*c a midpoint of dst (c a power of two), y*s far below double's half ulp of it.
        c = float(std::ldexp(irand(0, 1) ? 1.0 : -1.0, int(-irand(0, 3))));
        x = (dst == kF32 ? double(float(uniform(-1, 1))) : midpoint16(dst)) / double(c);
        if (dst == kF32) {  // an f32 midpoint as a product of two 24-bit numbers: (2^24 + 1) = (97*257) * 673
          x = double(97 * 257) * std::ldexp(1.0, int(-irand(14, 16))) * (irand(0, 1) ? 1 : -1);
          c = float(673 * std::ldexp(1.0, -10));
        }
        // |y*s| below 2^-54 |x*c|: below half a double ulp of it (y a power of two keeps the
        // exact sum within the reference's 128 bits)
        y = std::ldexp(1.0, int(-irand(20, 26)));
        s = float(uniform(0.5, 1) * std::fabs(x * double(c)) * std::ldexp(1.0, -int(irand(34, 44))) * (irand(0, 1) ? 1 : -1));
      }
      hv[ix] = x;
      hv[iy] = y;
    }
    for (int64_t i = 2 * half; i < headDim; i++) hv[i] = src == kF32 ? double(float(uniform(-3, 3))) : randomValue(src);
  }
  for (int64_t i = 0; i < n; i++) store(src, in, i, vals[size_t(i)]);
  std::vector<uint8_t> before(static_cast<size_t>(n) * test::dtypeSize(src));
  std::memcpy(before.data(), in, before.size());
  // The gaps between rows are the cache's other slots: they must keep their bytes.
  std::vector<uint8_t> outBefore(static_cast<size_t>(n) * test::dtypeSize(dst));
  for (size_t i = 0; i < outBefore.size(); i++) outBefore[i] = uint8_t(irand(0, 255));
  std::memcpy(out, outBefore.data(), outBefore.size());
  ck.rotateInto[st][src][dst](in, stride * test::dtypeSize(src), out, stride * test::dtypeSize(dst), heads, cos.data(), sin.data(),
                              half, headDim);
  const char* names[] = {"f32", "f16", "bf16"};
  auto fail = [&](int64_t i, double got, double want) {
    if (++gFailures <= 20)
      std::printf("FAIL %s %s %s->%s half %lld headDim %lld [%lld]: got %a want %a\n", isa, st == kHalf ? "half" : "interleaved",
                  names[src], names[dst], (long long)half, (long long)headDim, (long long)i, got, want);
  };
  for (int64_t h = 0; h < heads; h++) {
    const double* hv = vals.data() + h * stride;
    const int64_t at = h * stride;
    for (int64_t j = 0; j < half; j++) {
      const int64_t ix = st == kHalf ? j : 2 * j, iy = st == kHalf ? j + half : 2 * j + 1;
      const double x = hv[ix], y = hv[iy], c = cos[size_t(j)], s = sin[size_t(j)];
      const double wx = expected(src, dst, x, c, y, s, true), wy = expected(src, dst, x, c, y, s, false);
      const double gx = test::decode(dst, out, size_t(at + ix)), gy = test::decode(dst, out, size_t(at + iy));
      if (!(gx == wx && std::signbit(gx) == std::signbit(wx))) fail(at + ix, gx, wx);
      if (!(gy == wy && std::signbit(gy) == std::signbit(wy))) fail(at + iy, gy, wy);
    }
    for (int64_t i = 2 * half; i < headDim; i++) {
      const double want = roundTo(exactOf(hv[i]), fmtOf(dst)), got = test::decode(dst, out, size_t(at + i));
      if (got != want) fail(at + i, got, want);
    }
    const size_t ds = test::dtypeSize(dst);
    if (h + 1 < heads && std::memcmp(static_cast<const uint8_t*>(out) + size_t(at + headDim) * ds,
                                     outBefore.data() + size_t(at + headDim) * ds, size_t(pad) * ds) != 0) {
      gFailures++;
      std::printf("FAIL %s: bytes between rows %lld and %lld changed\n", isa, (long long)h, (long long)h + 1);
    }
  }
  if (std::memcmp(before.data(), in, before.size()) != 0) {
    gFailures++;
    std::printf("FAIL %s: k changed\n", isa);
  }
}

void convertCase(const CacheKernels& ck, const char* isa, DType src, DType dst, int64_t n) {
  test::Guarded gs(size_t(n) * 4 + 64), gd(size_t(n) * 4 + 64);
  void* in = src == kF32 ? static_cast<void*>(gs.place<float>(size_t(n))) : gs.place<uint16_t>(size_t(n));
  void* out = dst == kF32 ? static_cast<void*>(gd.place<float>(size_t(n))) : gd.place<uint16_t>(size_t(n));
  std::vector<double> vals(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) {
    // f32 values on a 16-bit midpoint half the time (the store's ties), else anything.
    double v = src == kF32 ? double(float(uniform(-4, 4) * std::ldexp(1.0, int(irand(-20, 10))))) : randomValue(src);
    if (src == kF32 && dst != kF32 && irand(0, 1)) v = midpoint16(dst);
    vals[size_t(i)] = v;
    store(src, in, i, v);
    // One f32 in eight a special: NaNs (quiet, signalling, payloads in either half), infinities,
    // zeros, subnormals, and values that round to a 16-bit infinity or its largest finite.
    if (src == kF32 && irand(0, 7) == 0) {
      static const uint32_t kSpecial[] = {0x7FC00000u, 0xFFC00001u, 0x7F800001u, 0x7FA5A5A5u, 0xFF80FFFFu, 0x7F800000u,
                                          0xFF800000u, 0x00000000u, 0x80000000u, 0x00000001u, 0x807FFFFFu, 0x00012345u,
                                          0x7F7FFFFFu, 0x477FF000u, 0x477FEFFFu, 0xC77FF000u};
      const uint32_t b = kSpecial[irand(0, int64_t(sizeof kSpecial / sizeof kSpecial[0]) - 1)];
      std::memcpy(static_cast<float*>(in) + i, &b, 4);
      float f;
      std::memcpy(&f, &b, 4);
      vals[size_t(i)] = double(f);
    }
  }
  ck.convert[src][dst](in, out, n);
  for (int64_t i = 0; i < n; i++) {
    const double x = vals[size_t(i)];
    if (std::isnan(x) || std::isinf(x)) {
      // NaN: still a NaN of the same sign, quiet; to bf16 exactly the top half with the quiet bit.
      // An infinity stays itself.
      uint32_t b;
      std::memcpy(&b, static_cast<const float*>(in) + i, 4);
      const uint32_t got = dst == kF32 ? static_cast<const uint32_t*>(out)[i] : static_cast<const uint16_t*>(out)[i];
      const uint32_t want = dst == kF32 ? b : dst == kBF16 ? (std::isnan(x) ? (b >> 16) | 0x40u : b >> 16)
                                          : std::isnan(x) ? got : (b >> 16 & 0x8000u) | 0x7C00u;
      const bool quiet = dst == kF16 ? (got & 0x7E00u) == 0x7E00u : dst == kBF16 ? (got & 0x7FC0u) == 0x7FC0u : true;
      if ((got != want || (std::isnan(x) && (!quiet || (got >> (dst == kF32 ? 31 : 15)) != (b >> 31)))) && ++gFailures <= 20)
        std::printf("FAIL %s convert %d->%d n %lld [%lld]: special %08x got %x want %x\n", isa, src, dst, (long long)n, (long long)i, b, got, want);
      continue;
    }
    const double want = roundTo(exactOf(x), fmtOf(dst)), got = test::decode(dst, out, size_t(i));
    if (got != want && ++gFailures <= 20) std::printf("FAIL %s convert %d->%d n %lld [%lld]: got %a want %a\n", isa, src, dst, (long long)n, (long long)i, got, want);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t seed = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20261207;
  gRng.seed(seed);
  std::string list;
  for (const std::string& name : supportedIsas()) {
    const KernelTable* kt = findKernels(name.c_str(), nullptr);
    const CacheKernels& ck = cacheKernelsFor(*kt);
    if (ck.isa == nullptr || std::strcmp(ck.isa, kt->isa) != 0) {
      std::printf("FAIL %s: cacheKernelsFor gives %s\n", kt->isa, ck.isa ? ck.isa : "none");
      gFailures++;
      continue;
    }
    list += std::string(" ") + ck.isa;
    for (int st = 0; st < kStyleCount; st++)
      for (int s = 0; s < kDTypeCount; s++)
        for (int d = 0; d < kDTypeCount; d++)
          for (int64_t half = 1; half <= 40; half++)
            for (int rep = 0; rep < 3; rep++) {
              // One row, or several: stride a multiple of 64 bytes (every row equally aligned, the
              // cache's case) or padded by a few elements.
              const int64_t heads = rep == 0 ? 1 : irand(2, 4), dsz = d == kF32 ? 4 : 2;
              const int64_t headDim = 2 * half + irand(0, 5);
              const int64_t pad = irand(0, 1) ? (64 / dsz - headDim % (64 / dsz)) % (64 / dsz) : irand(1, 5);
              rowCase(ck, ck.isa, Style(st), DType(s), DType(d), half, headDim - 2 * half, rep > 0, heads, pad);
            }
    for (int s = 0; s < kDTypeCount; s++)
      for (int d = 0; d < kDTypeCount; d++)
        for (int64_t n = 1; n <= 70; n++) convertCase(ck, ck.isa, DType(s), DType(d), n);
  }
  std::printf("seed %llu, cache rows on:%s; hard cases: %lld to 16-bit, %lld to f32\n", (unsigned long long)seed, list.c_str(),
              (long long)gHard16, (long long)gHard32);
  if (gHard16 == 0 || gHard32 == 0) {
    std::printf("FAIL: the data never reached a case where rounding via double differs\n");
    return 1;
  }
  if (gFailures != 0) {
    std::printf("%d failures\n", gFailures);
    return 1;
  }
  std::printf("ok\n");
  return 0;
}
