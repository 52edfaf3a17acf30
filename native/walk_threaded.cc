// The threaded walk: one plan split by tokens over the pool (pool.h), 'auto' resolved by the
// learned rule (auto_threads.h).
#include <algorithm>
#include <chrono>

#include "threadpool.h"
#include "walk.h"

namespace rope {
namespace {

// Part i of a plan covers tokens [tokens*i/parts, tokens*(i+1)/parts): contiguous and
// deterministic; tokens*parts < 2^53 * 2^9 (64 threads x 8 chunks) cannot overflow.
void walkPart(void* ctx, int64_t i, int64_t parts) {
  const Plan& p = *static_cast<const Plan*>(ctx);
  walkRange(p, p.tokens * i / parts, p.tokens * (i + 1) / parts);
}

}  // namespace

void walkThreaded(const Plan& p) {
  int64_t threads = resolveThreads(p);
  if (p.threads == kThreadsAuto && threads > 1) {
    const AutoSample sample = autoStart(planBytes(p));
    if (sample.choice == 0) threads = 1;
    const auto t0 = std::chrono::steady_clock::now();
    if (threads == 1)
      walk(p);
    else
      parallelFor(std::min(p.tokens, threads * kChunksPerThread), threads, walkPart, const_cast<Plan*>(&p));
    autoFinish(sample, double(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count()));
    return;
  }
  if (threads == 1) {
    walk(p);  // the decode path: no job, no allocation, no lock
    return;
  }
  // Several chunks per thread, claimed as threads come free: a helper that starts late (a busy
  // machine) or runs slow costs one small chunk, not half the call.
  parallelFor(std::min(p.tokens, threads * kChunksPerThread), threads, walkPart, const_cast<Plan*>(&p));
}

}  // namespace rope
