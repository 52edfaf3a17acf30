// How many threads a plan runs on: explicit counts capped, 'auto' by its size and what this
// process has measured (auto_threads.cc).
#pragma once
#include <cstdint>

#include "rope.h"

namespace rope {

// Plan::threads == 0 means 'auto'.
constexpr int64_t kThreadsAuto = 0;
// 'auto' never uses more threads than this, even on big machines: RoPE is memory-bound and more
// threads than memory channels only add contention.
constexpr int64_t kAutoMaxThreads = 16;
// 'auto' uses one thread below this many bytes of rotated rows per call (q + k, all heads, batch,
// tokens, rotaryDim elements each): there a helper's wake-up costs more than it can save. Above
// it, 'auto' learns per process and size class whether about one thread per kAutoMinBytes/2 (up
// to the machine's cores) beats one thread, by timing its own calls (auto_threads.cc), so no
// threshold tuned on one CPU decides for another. docs/maintainers/perf.md has the measurements.
constexpr int64_t kAutoMinBytes = int64_t(2) << 20;

// Bytes of rows a plan rotates (saturating; only compared with thresholds).
int64_t planBytes(const Plan& p);

// The number of parts a plan runs in: threads resolved ('auto' by size and cores), capped by
// kMaxPoolThreads and by the number of tokens (the split is by tokens).
int64_t resolveThreads(const Plan& p);

// One 'auto' call's choice (0: one thread, 1: several) for its size class, and its timing, which
// autoFinish records for the next calls of that class.
struct AutoSample {
  void* cls;
  int choice;
  int64_t bytes;
};
AutoSample autoStart(int64_t bytes);
void autoFinish(const AutoSample& s, double ns);

}  // namespace rope
