// THE walk: tokens -> one cos/sin row -> every head of q and k. Shared by every ISA (the kernels
// only rotate a row) and by every caller (sync apply; the async worker and the thread pool split a
// plan by tokens and call walkRange on each part).
#pragma once
#include <cstdint>

#include "rope.h"

namespace rope {

// Rotates tokens [tokenBegin, tokenEnd) of every batch row of p.q (and p.k). Parts with disjoint
// token ranges touch disjoint rows (the binding proved rows do not overlap), so they may run on
// different threads at once; the result does not depend on how a plan is split.
void walkRange(const Plan& p, int64_t tokenBegin, int64_t tokenEnd);

// The whole plan on the calling thread.
void walk(const Plan& p);

// The benchmark's memory limit over n elements of dtype, with the given ISA: f32's pass
// (data[i] *= factor) over their bytes, whatever the dtype (walk.cc).
void limitPass(const KernelTable& kernels, void* data, int64_t n, DType dtype, float factor);

}  // namespace rope
