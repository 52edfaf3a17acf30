// The native thread pool: one plan split by tokens into contiguous parts, run by the
// caller plus helper threads created once (lazily) and shared by every call of the process (sync
// calls, async workers on the libuv pool, every worker_thread). Each token's rows are computed by
// exactly the same code whatever the split, so results are bit-identical for any thread count.
#pragma once
#include <cstdint>

#include "rope.h"

namespace rope {

// Plan::threads == 0 means 'auto'.
constexpr int64_t kThreadsAuto = 0;
// Explicit thread counts above this run as this many (the binding accepts up to kMaxThreads).
constexpr int64_t kMaxPoolThreads = 64;
// 'auto' never uses more threads than this, even on big machines: RoPE is memory-bound and more
// threads than memory channels only add contention.
constexpr int64_t kAutoMaxThreads = 16;
// 'auto' uses one thread below this many bytes of rotated rows per call (q + k, all heads, batch,
// tokens, rotaryDim elements each): there a helper's wake-up costs more than it can save. Above
// it, 'auto' learns per process and size class whether about one thread per kAutoMinBytes/2 (up
// to the machine's cores) beats one thread, by timing its own calls (threadpool.cc), so no
// threshold tuned on one CPU decides for another. docs/perf.md has the measurements.
constexpr int64_t kAutoMinBytes = int64_t(2) << 20;

// Bytes of rows a plan rotates (saturating; only compared with thresholds).
int64_t planBytes(const Plan& p);

// The number of parts a plan runs in: threads resolved ('auto' by size and cores), capped by
// kMaxPoolThreads and by the number of tokens (the split is by tokens).
int64_t resolveThreads(const Plan& p);

// Runs the whole plan: on the calling thread alone when it resolves to one thread, otherwise split
// into contiguous token ranges that the caller and pool threads claim. Returns when all are done.
// Never throws: if helper threads cannot be created, the caller runs the remaining parts itself.
void walkThreaded(const Plan& p);

// A threaded call is cut into up to threads * kChunksPerThread contiguous token ranges.
constexpr int64_t kChunksPerThread = 8;

// Runs fn(ctx, i, parts) for i in [0, parts), on the caller and up to threads-1 pool threads,
// each claiming the next i as it comes free; returns when all are done. fn must not throw.
using PartFn = void (*)(void* ctx, int64_t i, int64_t parts);
void parallelFor(int64_t parts, int64_t threads, PartFn fn, void* ctx);

// Threads the pool has created so far (tests, diagnostics).
int64_t poolThreads();

}  // namespace rope
