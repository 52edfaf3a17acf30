// The native thread pool: helper threads created once (lazily) and shared by every call of the
// process (sync calls, async workers on the libuv pool, every worker_thread); a job is cut into
// parts that the caller and the helpers claim (pool.cc).
#pragma once
#include <cstdint>

namespace rope {

// Explicit thread counts above this run as this many (the binding accepts up to kMaxThreads).
constexpr int64_t kMaxPoolThreads = 64;

// A threaded call is cut into up to threads * kChunksPerThread contiguous token ranges.
constexpr int64_t kChunksPerThread = 8;

// Runs fn(ctx, i, parts) for i in [0, parts), on the caller and up to threads-1 pool threads,
// each claiming the next i as it comes free; returns when all are done. fn must not throw.
using PartFn = void (*)(void* ctx, int64_t i, int64_t parts);
void parallelFor(int64_t parts, int64_t threads, PartFn fn, void* ctx);

// Threads the pool has created so far (tests, diagnostics).
int64_t poolThreads();

}  // namespace rope
