// The 'auto' threads rule: one thread below kAutoMinBytes; above it, several only where this
// process has measured them to beat one (below).
#include "auto_threads.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "pool.h"

namespace rope {

int64_t planBytes(const Plan& p) {
  const double rows = double(p.q.heads) * double(dtypeSize(p.q.dtype)) +
                      (p.hasK ? double(p.k.heads) * double(dtypeSize(p.k.dtype)) : 0.0);
  const double bytes = rows * double(p.batch) * double(p.tokens) * double(p.geo.rotaryDim);
  return bytes >= 9.0e18 ? INT64_MAX : int64_t(bytes);
}

// 'auto' above kAutoMinBytes learns, per process and per size class (a power of two of bytes),
// whether several threads beat one: it keeps the ns per byte of the last kAutoWindow calls of each
// choice, compares their medians (robust to a call that lost its core for a while), takes the
// better one, and re-tries the other every kAutoProbeEvery calls of that class (the first calls
// try both). So it follows the machine it runs on (cores shared with other work, memory
// bandwidth, a CPU it was never measured on) instead of a threshold tuned elsewhere: measured, 2
// threads ran at 1.12x-2.9x on one 2-core machine and at 0.75x-0.86x for 10-80 MiB on another
// with busy cores. Races between concurrent calls only lose a sample.
namespace {

int64_t cores() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : int64_t(n);
}

constexpr int kAutoClasses = 48;
constexpr int kAutoWindow = 5;
constexpr uint32_t kAutoProbeEvery = 16;
// Several threads must win by this factor: when the two are close, one thread (no helper that a
// busy machine can preempt mid-chunk) is the choice that cannot lose much.
constexpr double kAutoMargin = 0.9;
struct AutoClass {
  std::atomic<double> nsPerByte[2][kAutoWindow] = {};  // [0] one thread, [1] several; 0 = no sample
  std::atomic<uint32_t> filled[2] = {};                 // samples recorded per choice
  std::atomic<uint32_t> calls{0};
};
AutoClass* autoClasses() {
  static AutoClass* a = new AutoClass[kAutoClasses];  // never destroyed (pool threads may use it)
  return a;
}
int autoClass(int64_t bytes) {
  int c = 0;
  while (c + 1 < kAutoClasses && (bytes >> (c + 1)) >= kAutoMinBytes) c++;
  return c;
}
// Median of a choice's recorded samples (0 if none).
double autoEstimate(AutoClass& a, int choice) {
  double v[kAutoWindow];
  int n = 0;
  for (int i = 0; i < kAutoWindow; i++) {
    const double x = a.nsPerByte[choice][i].load(std::memory_order_relaxed);
    if (x > 0.0) v[n++] = x;
  }
  if (n == 0) return 0.0;
  // (insertion sort: at most kAutoWindow values; std::sort here draws a false -Warray-bounds)
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && v[j - 1] > v[j]; j--) std::swap(v[j - 1], v[j]);
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
// Which choice a call of this class makes: 0 one thread, 1 several.
int autoChoice(AutoClass& a) {
  const uint32_t n = a.calls.fetch_add(1, std::memory_order_relaxed);
  // The first calls alternate until each choice has two samples.
  if (a.filled[0].load(std::memory_order_relaxed) < 2 || a.filled[1].load(std::memory_order_relaxed) < 2) return int(n % 2);
  const int best = autoEstimate(a, 1) < autoEstimate(a, 0) * kAutoMargin ? 1 : 0;
  return n % kAutoProbeEvery == kAutoProbeEvery - 1 ? 1 - best : best;
}
void autoRecord(AutoClass& a, int choice, double ns, int64_t bytes) {
  const uint32_t i = a.filled[choice].fetch_add(1, std::memory_order_relaxed);
  a.nsPerByte[choice][i % kAutoWindow].store(ns / double(bytes), std::memory_order_relaxed);
}
int64_t autoThreads(int64_t bytes) {
  return std::min({cores(), kAutoMaxThreads, bytes / (kAutoMinBytes / 2)});
}
}  // namespace


int64_t resolveThreads(const Plan& p) {
  int64_t n = p.threads;
  if (n == kThreadsAuto) {
    const int64_t bytes = planBytes(p);
    n = bytes < kAutoMinBytes ? 1 : autoThreads(bytes);
  }
  n = std::min({n, kMaxPoolThreads, p.tokens});
  return n < 1 ? 1 : n;
}

AutoSample autoStart(int64_t bytes) {
  AutoClass& a = autoClasses()[autoClass(bytes)];
  return AutoSample{&a, autoChoice(a), bytes};
}

void autoFinish(const AutoSample& s, double ns) { autoRecord(*static_cast<AutoClass*>(s.cls), s.choice, ns, s.bytes); }

}  // namespace rope
