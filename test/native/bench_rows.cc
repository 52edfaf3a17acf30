// Microbenchmark of the row kernels (not a test): ns per element of rotateRows for each ISA, dtype
// and style, in two regimes: decode (32 heads x headDim 128, one token, L1-resident, repeated) and
// prefill (64 MiB of rows, memory-bound). Thread CPU time; median and minimum of `reps` runs. Used to measure what correct
// f16/bf16 rounding costs: build once against the old kernels, once against the new, compare.
//   g++ -std=c++17 -O3 -o bench_rows test/native/bench_rows.cc $(node native/sources.cjs kernelTests)
//   ./bench_rows [reps] [isa]
// Each regime also prints `limit`: f32's scale pass over the same bytes for every dtype (the
// benchmark's limit call, native/walk.cc limitPass), the floor a rotation is measured against.
#include <algorithm>
#include <ctime>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../../native/dispatch.h"

using namespace rope;

namespace {
// This thread's CPU time: on a shared machine, time spent descheduled does not count.
double nowNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}
}  // namespace

int main(int argc, char** argv) {
  int reps = argc > 1 ? std::atoi(argv[1]) : 9;
  const char* only = argc > 2 ? argv[2] : nullptr;
  const int64_t headDim = 128, half = 64, heads = 32;
  std::vector<float> c(half), s(half);
  for (int64_t j = 0; j < half; ++j) c[j] = float(std::cos(0.1 * double(j) + 1)), s[j] = float(std::sin(0.1 * double(j) + 1));
  const char* dn[] = {"f32", "f16", "bf16"};
  const char* sn[] = {"half", "interleaved"};
  for (const std::string& name : supportedIsas()) {
    if (only != nullptr && name != only) continue;
    const KernelTable* k = findKernels(name.c_str(), nullptr);
    for (int d = 0; d < kDTypeCount; ++d)
      for (int st = 0; st <= kStyleCount; ++st) {  // st == kStyleCount: the limit pass
        size_t sz = d == kF32 ? 4 : 2;
        for (int regime = 0; regime < 2; ++regime) {
          int64_t rows = regime == 0 ? heads : int64_t(64 << 20) / int64_t(headDim * sz);
          int64_t loops = regime == 0 ? 20000 : 3;
          // 64-byte aligned plus `shift` bytes (ROPE_BENCH_SHIFT, default 16: where Node's
          // malloc-backed typed arrays often start), so the rows' alignment is the same every run.
          std::vector<uint8_t> store(size_t(rows * headDim) * sz + 128);
          const char* sh = std::getenv("ROPE_BENCH_SHIFT");
          const size_t shift = sh != nullptr ? size_t(std::atoi(sh)) : 16;
          uint8_t* data = store.data() + ((64 - reinterpret_cast<uintptr_t>(store.data()) % 64) % 64) + shift;
          struct {
            uint8_t* p;
            size_t n;
            uint8_t* data() { return p; }
            size_t size() const { return n; }
          } buf{data, size_t(rows * headDim) * sz};
          // small normal values (~0.5..2) in every dtype
          for (size_t i = 0; i < buf.size() / sz; ++i) {
            if (d == kF32) {
              float f = 0.5f + float(i % 97) / 97.0f;
              std::memcpy(buf.data() + i * 4, &f, 4);
            } else {
              uint16_t h = uint16_t(d == kBF16 ? 0x3F00 + (i * 37) % 0x100 : 0x3800 + (i * 37) % 0x800);
              std::memcpy(buf.data() + i * 2, &h, 2);
            }
          }
          std::vector<double> t;
          for (int r = 0; r < reps; ++r) {
            double t0 = nowNs();
            for (int64_t l = 0; l < loops; ++l)
              if (st == kStyleCount)
                k->scale[kF32](buf.data(), rows * headDim * int64_t(sz) / 4, 1.0f);
              else
                k->rotateRows[st][d](buf.data(), headDim * int64_t(sz), rows, c.data(), s.data(), half,
                                     regime == 0 ? INT64_MAX : 2);  // prefill streams: walk.cc's block
            t.push_back((nowNs() - t0) / double(loops * rows * headDim));
          }
          std::sort(t.begin(), t.end());
          std::printf("%-7s %-5s %-12s %-8s %.4f %.4f ns/elem (median, min)\n", name.c_str(), dn[d], st == kStyleCount ? "limit" : sn[st],
                      regime ? "prefill" : "decode", t[t.size() / 2], t[0]);
        }
      }
  }
}
