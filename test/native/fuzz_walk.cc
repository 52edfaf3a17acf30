// libFuzzer target for the whole walk (native/walk.cc through walkThreaded): random geometry
// (headDim, rotaryDim, style, M-RoPE sections), dtypes, strides and offsets, batch, tokens,
// heads, positions (none / shared / per batch row / per section row), invFreq, attentionScaling,
// inverse, threads, cos/sin cache on or off, and ISA. Checked against a brute-force model:
//   - every rotated element: f16/bf16 exactly round16(round64(x*c - y*s)) (the JS engine's value),
//     f32 within 2 ulp of the row's max |value| of round32(that) and exactly it where +-0;
//     c, s from the ISA's own cosSin of that one pair (lane-wise arithmetic: the same bits the walk
//     and the cache use);
//   - every other byte of q and k (gaps between heads/tokens/batch rows, pass-through dims) and all
//     of positions/invFreq unchanged;
//   - canary regions before and after every buffer unchanged, and poisoned for ASan so even a
//     read of them is reported.
// Any disagreement aborts (libFuzzer saves the input).   scripts/test/fuzz-kernels.sh [seconds]
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../../native/cossin_cache.h"
#include "../../native/dispatch.h"
#include "../../native/threadpool.h"
#include "../../native/walk.h"
#include "test_util.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ROPE_FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ROPE_FUZZ_ASAN 1
#endif
#ifdef ROPE_FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

using namespace rope;

namespace {

struct Reader {
  const uint8_t* p;
  size_t n, i = 0;
  uint8_t u8() { return i < n ? p[i++] : uint8_t(0x5A ^ i++); }
  uint32_t u32() { uint32_t v = 0; for (int k = 0; k < 4; ++k) v |= uint32_t(u8()) << (8 * k); return v; }
  int64_t in(int64_t lo, int64_t hi) { return lo + int64_t(u32() % uint32_t(hi - lo + 1)); }
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "MISMATCH %s\n", what.c_str());
  std::abort();
}

constexpr size_t kCanary = 64;

// Bytes [kCanary | data | kCanary]; the canaries hold a pattern and are poisoned for ASan.
class Buffer {
 public:
  Buffer(size_t bytes, Reader& r) : bytes_(bytes), raw_(bytes + 2 * kCanary) {
    for (size_t i = 0; i < kCanary; ++i) raw_[i] = raw_[kCanary + bytes + i] = uint8_t(0xC3 ^ i);
    for (size_t i = 0; i < bytes; ++i) raw_[kCanary + i] = r.u8();
    ASAN_POISON_MEMORY_REGION(raw_.data(), kCanary);
    ASAN_POISON_MEMORY_REGION(raw_.data() + kCanary + bytes, kCanary);
  }
  ~Buffer() { ASAN_UNPOISON_MEMORY_REGION(raw_.data(), raw_.size()); }
  uint8_t* data() { return raw_.data() + kCanary; }
  void checkCanaries(const char* name) {
    ASAN_UNPOISON_MEMORY_REGION(raw_.data(), raw_.size());
    for (size_t i = 0; i < kCanary; ++i)
      if (raw_[i] != uint8_t(0xC3 ^ i) || raw_[kCanary + bytes_ + i] != uint8_t(0xC3 ^ i))
        fail(std::string(name) + ": a canary next to the buffer changed");
  }

 private:
  size_t bytes_;
  std::vector<uint8_t> raw_;
};

const char* kDt[] = {"f32", "f16", "bf16"};

// f16/bf16 element from a byte pair, biased to the interesting places: the top of the range,
// subnormals, +-0, ordinary values; NaN/Inf too (anything the bytes say).
uint16_t element16(DType t, Reader& r) {
  uint16_t sign = uint16_t((r.u8() & 1) << 15);
  uint16_t top = t == kF16 ? 0x7BFF : 0x7F7F, sub = t == kF16 ? 0x3FF : 0x7F;
  switch (r.u8() % 6) {
    case 0: return uint16_t(sign | (top - r.in(0, 0x1FF)));
    case 1: return uint16_t(sign | r.in(0, sub));
    case 2: return uint16_t(r.u32());
    default: return uint16_t(sign | (t == kF16 ? r.in(0x3000, 0x4400) : r.in(0x3E00, 0x4100)));
  }
}

uint32_t element32(Reader& r) {
  switch (r.u8() % 5) {
    case 0: return uint32_t((r.u8() & 1) << 31) | uint32_t(r.in(0, 200));  // +-0, tiny subnormals
    case 1: return r.u32();
    default: {
      float f = float(r.in(-100000, 100000)) / 4096.0f;
      uint32_t u;
      std::memcpy(&u, &f, 4);
      return u;
    }
  }
}

struct Tensor {
  DType dtype;
  int64_t heads, offset, headStride, tokenStride, batchStride, length;
};

Tensor makeTensor(Reader& r, int64_t headDim, int64_t batch, int64_t tokens, bool allowZeroHeads) {
  Tensor t;
  t.dtype = DType(r.in(0, 2));
  t.heads = r.in(allowZeroHeads ? 0 : 1, 5);
  t.offset = r.in(0, 5);
  t.headStride = headDim + (r.u8() % 3 == 0 ? r.in(1, 5) : 0);
  t.tokenStride = t.heads * t.headStride + (r.u8() % 3 == 0 ? r.in(1, 7) : 0);
  t.batchStride = tokens * t.tokenStride + (r.u8() % 3 == 0 ? r.in(1, 9) : 0);
  // Token-major layouts too ([tokens, batch, heads, dim]): swap the two outer strides.
  if (r.u8() % 4 == 0) {
    t.batchStride = t.heads * t.headStride + r.in(0, 3);
    t.tokenStride = batch * t.batchStride + r.in(0, 3);
  }
  t.length = t.heads == 0 ? 0
                          : t.offset + (batch - 1) * t.batchStride + (tokens - 1) * t.tokenStride +
                                (t.heads - 1) * t.headStride + headDim;
  return t;
}

double decodeAt(DType t, const uint8_t* base, int64_t i) { return test::decode(t, base, size_t(i)); }

// Checks one tensor after the walk against the model; `before` is its bytes before.
void checkTensor(const char* name, const Tensor& t, const Plan& p, const uint8_t* before, const uint8_t* after,
                 const KernelTable& kt, const std::vector<uint8_t>& sections) {
  const int64_t half = p.geo.rotaryDim / 2, sz = dtypeSize(t.dtype);
  std::vector<uint8_t> rotated(size_t(t.length), 0);
  const double scale = p.attentionScaling, sinScale = p.inverse ? -scale : scale;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t tk = 0; tk < p.tokens; ++tk)
      for (int64_t h = 0; h < t.heads; ++h) {
        const int64_t at = t.offset + b * t.batchStride + tk * t.tokenStride + h * t.headStride;
        std::vector<double> exact(size_t(2 * half));
        std::vector<int64_t> idx(size_t(2 * half));
        double rowMax = 0;
        for (int64_t j = 0; j < half; ++j) {
          double pos;
          if (p.positions == nullptr) pos = double(p.positionOffset + tk);
          else pos = double(p.positions[(sections.empty() ? 0 : sections[size_t(j)]) * p.positionsRowStride +
                                        b * p.positionsBatchStride + tk]);
          float c, s;
          kt.cosSin(&pos, p.invFreq + j, 1, scale, sinScale, &c, &s);
          const int64_t ix = p.geo.style == kHalf ? at + j : at + 2 * j;
          const int64_t iy = p.geo.style == kHalf ? at + j + half : ix + 1;
          const double x = decodeAt(t.dtype, before, ix), y = decodeAt(t.dtype, before, iy);
          idx[size_t(2 * j)] = ix, idx[size_t(2 * j + 1)] = iy;
          // f32: the contract (loops.h), y*s and x*s rounded to f32 first; 16-bit: exact products
          const bool f32 = t.dtype == kF32;
          exact[size_t(2 * j)] = x * double(c) - (f32 ? double(float(y * double(s))) : y * double(s));
          exact[size_t(2 * j + 1)] = y * double(c) + (f32 ? double(float(x * double(s))) : x * double(s));
          for (double v : {std::fabs(x), std::fabs(y), std::fabs(exact[size_t(2 * j)]), std::fabs(exact[size_t(2 * j + 1)])})
            if (std::isfinite(v)) rowMax = std::max(rowMax, v);
        }
        for (size_t e = 0; e < idx.size(); ++e) {
          const int64_t i = idx[e];
          if (rotated[size_t(i)]) fail(std::string(name) + ": element rotated twice (model bug)");
          rotated[size_t(i)] = 1;
          const double d = exact[e], got = decodeAt(t.dtype, after, i);
          char where[200];
          std::snprintf(where, sizeof where, "%s %s b%lld t%lld h%lld element %lld: got %.9g want %.9g",
                        name, kDt[t.dtype], (long long)b, (long long)tk, (long long)h, (long long)(i - at), got, d);
          if (std::isnan(d) || std::isnan(got)) {
            if (std::isnan(d) != std::isnan(got)) fail(std::string(where) + " (NaN-ness)");
            continue;
          }
          if (t.dtype != kF32) {
            uint16_t g;
            std::memcpy(&g, after + i * sz, 2);
            if (g != test::encode16(t.dtype, d)) fail(std::string(where) + " (not the exactly rounded 16-bit value)");
            continue;
          }
          const float want = float(d), gf = float(got);
          if ((gf == 0 || want == 0) && std::signbit(gf) != std::signbit(want))
            fail(std::string(where) + " (zero of the wrong sign)");
          if (std::isinf(want) || std::isinf(gf)) {
            if (gf != want && std::fabs(double(gf)) < 3.4e38 && std::fabs(double(want)) < 3.4e38)
              fail(std::string(where) + " (infinity)");
            continue;
          }
          if (std::fabs(double(gf) - double(want)) > 2 * test::ulpOf(kF32, rowMax))
            fail(std::string(where) + " (beyond 2 ulp of the row max)");
        }
      }
  for (int64_t i = 0; i < t.length; ++i)
    if (!rotated[size_t(i)] && std::memcmp(before + i * sz, after + i * sz, size_t(sz)) != 0)
      fail(std::string(name) + ": element " + std::to_string(i) + " outside the rotated rows changed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader r{data, size};
  std::vector<std::string> isas = supportedIsas();
  const KernelTable* kt = findKernels(isas[size_t(r.u8()) % isas.size()].c_str(), nullptr);

  Plan p;
  p.kernels = kt;
  const int64_t half = r.in(1, 20);
  p.geo.rotaryDim = 2 * half;
  p.geo.headDim = p.geo.rotaryDim + (r.u8() % 3 == 0 ? r.in(1, 6) : 0);
  p.geo.style = Style(r.u8() & 1);
  p.batch = r.in(1, 3);
  p.tokens = r.in(1, 6);
  p.inverse = (r.u8() & 3) == 0;
  p.attentionScaling = (r.u8() & 1) ? 1.0 : 0.25 + double(r.in(0, 1000)) / 400.0;
  p.threads = r.in(1, 4);

  // Positions: none (offset), one row shared by every batch row, one per batch row, or M-RoPE
  // sections (row pairSection[j] for pair j).
  const int mode = int(r.u8() % 4);
  std::vector<uint8_t> sections;
  int64_t rows = 1;
  if (mode == 3) {
    rows = r.in(1, 3);
    for (int64_t j = 0; j < half; ++j) sections.push_back(uint8_t(r.in(0, rows - 1)));
    p.geo.pairSection = sections.data();
    p.geo.sectionRows = rows;
  }
  const int64_t perRow = mode == 1 ? p.tokens : p.batch * p.tokens;
  const int64_t posCount = mode == 0 ? 0 : rows * perRow;
  Buffer posBuf(size_t(posCount) * 4, r);
  int32_t* positions = reinterpret_cast<int32_t*>(posBuf.data());
  for (int64_t i = 0; i < posCount; ++i)
    positions[i] = (r.u8() & 3) == 0 ? int32_t(r.u32() & 0x7FFFFFFF) : int32_t(r.in(0, 70000));
  if (mode == 0) {
    p.positionOffset = (r.u8() & 3) == 0 ? int64_t(r.u32() & 0x7FFFFFFF) - p.tokens : r.in(0, 1000);
    if (p.positionOffset < 0) p.positionOffset = 0;
  } else {
    p.positions = positions;
    p.positionsBatchStride = mode == 1 ? 0 : p.tokens;
    p.positionsRowStride = perRow;
  }
  std::vector<uint8_t> posBefore(reinterpret_cast<uint8_t*>(positions), reinterpret_cast<uint8_t*>(positions) + posCount * 4);

  Buffer freqBuf(size_t(half) * 8, r);
  double* invFreq = reinterpret_cast<double*>(freqBuf.data());
  const double base = (r.u8() & 1) ? 10000.0 : 1.0 + double(r.in(1, 1000000));
  for (int64_t j = 0; j < half; ++j) invFreq[j] = std::pow(base, -double(j) / double(half)) * ((r.u8() & 7) == 0 ? 0.125 : 1.0);
  p.invFreq = invFreq;
  std::vector<uint8_t> freqBefore(freqBuf.data(), freqBuf.data() + half * 8);

  Tensor tq = makeTensor(r, p.geo.headDim, p.batch, p.tokens, false);
  Tensor tk = makeTensor(r, p.geo.headDim, p.batch, p.tokens, true);
  p.hasK = tk.heads > 0;
  auto fill = [&](const Tensor& t) {
    std::unique_ptr<Buffer> b(new Buffer(size_t(t.length * dtypeSize(t.dtype)), r));
    for (int64_t i = 0; i < t.length; ++i) {
      if (t.dtype == kF32) {
        uint32_t u = element32(r);
        std::memcpy(b->data() + i * 4, &u, 4);
      } else {
        uint16_t h = element16(t.dtype, r);
        std::memcpy(b->data() + i * 2, &h, 2);
      }
    }
    return b;
  };
  std::unique_ptr<Buffer> qBuf = fill(tq), kBuf = fill(tk);
  auto ref = [](const Tensor& t, Buffer& b) {
    TensorRef x;
    x.data = b.data(), x.length = t.length, x.dtype = t.dtype, x.heads = t.heads, x.offset = t.offset;
    x.batchStride = t.batchStride, x.tokenStride = t.tokenStride, x.headStride = t.headStride;
    return x;
  };
  p.q = ref(tq, *qBuf);
  if (p.hasK) p.k = ref(tk, *kBuf);
  std::vector<uint8_t> qBefore(qBuf->data(), qBuf->data() + tq.length * dtypeSize(tq.dtype));
  std::vector<uint8_t> kBefore(kBuf->data(), kBuf->data() + tk.length * dtypeSize(tk.dtype));

  // The cache as the binding uses it: only for plans without sections or inverse; sometimes a
  // tiny budget so rows run out and are computed instead.
  std::unique_ptr<CosSinTable> cache;
  if (sections.empty() && !p.inverse && (r.u8() & 1)) {
    auto budget = std::make_shared<std::atomic<int64_t>>((r.u8() & 3) == 0 ? kCacheBytes - 1 : 0);
    cache.reset(new CosSinTable(kt, invFreq, half, p.attentionScaling, budget));
    p.cache = cache.get();
  }

  const int passes = cache ? 2 : 1;  // with a cache: a second pass reads the rows the first wrote
  for (int pass = 0; pass < passes; ++pass) {
    if (pass == 1) {
      std::memcpy(qBuf->data(), qBefore.data(), qBefore.size());
      std::memcpy(kBuf->data(), kBefore.data(), kBefore.size());
    }
    walkThreaded(p);
    checkTensor("q", tq, p, qBefore.data(), qBuf->data(), *kt, sections);
    if (p.hasK) checkTensor("k", tk, p, kBefore.data(), kBuf->data(), *kt, sections);
    else if (!kBefore.empty() && std::memcmp(kBuf->data(), kBefore.data(), kBefore.size()) != 0) fail("k changed without hasK");
  }
  if (std::memcmp(positions, posBefore.data(), posBefore.size()) != 0) fail("positions changed");
  if (std::memcmp(invFreq, freqBefore.data(), freqBefore.size()) != 0) fail("invFreq changed");
  qBuf->checkCanaries("q");
  kBuf->checkCanaries("k");
  posBuf.checkCanaries("positions");
  freqBuf.checkCanaries("invFreq");
  return 0;
}
