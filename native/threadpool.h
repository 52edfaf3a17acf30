// The threaded walk: one plan split by tokens into contiguous parts, run by the caller plus the
// pool's helper threads (pool.h), 'auto' resolved by auto_threads.h. Each token's rows are computed
// by exactly the same code whatever the split, so results are bit-identical for any thread count.
#pragma once

#include "auto_threads.h"
#include "pool.h"
#include "rope.h"

namespace rope {

// Runs the whole plan: on the calling thread alone when it resolves to one thread, otherwise split
// into contiguous token ranges that the caller and pool threads claim. Returns when all are done.
// Never throws: if helper threads cannot be created, the caller runs the remaining parts itself.
void walkThreaded(const Plan& p);

}  // namespace rope
