// A per-NativeRope cache of cos/sin rows for positions already seen. A model calls the same
// positions once per layer (and a benchmark calls them again and again), and computing a row
// (~100-130 ns for 64 pairs) does not overlap the memory traffic of the rows it rotates: at
// prefill sizes it costs 5-10% of a call. A cached row is the bits cosSin would compute (same
// kernel table, invFreq, attentionScaling), so results do not depend on whether it hit.
//
// Thread safety: calls on one NativeRope may run at once (sync, async workers, pool threads). A
// Table is immutable in its key and only grows: each slot goes empty -> being written -> ready,
// once, by whoever wins a CAS; everybody else computes into its own scratch instead of waiting.
// An async call holds a shared_ptr to its Table, so a Table replaced (other invFreq, ISA) stays
// alive until its last call ends (a sync call ends before the next call can replace anything). Memory: chunks of rows allocated on first use, at most kCacheBytes
// per NativeRope over all its Tables (then rows are just computed), and positions >= kCachePositions
// are never cached.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "kernels/kernels.h"

namespace rope {

constexpr int64_t kCacheBytes = int64_t(16) << 20;  // per NativeRope, all its Tables
constexpr int64_t kCachePositions = int64_t(1) << 17;
constexpr int64_t kCacheChunkRows = 64;
constexpr int kCacheTables = 4;  // distinct (ISA, invFreq, attentionScaling) kept at once

class CosSinTable {
 public:
  CosSinTable(const KernelTable* kernels, const double* invFreq, int64_t half, double scale,
              std::shared_ptr<std::atomic<int64_t>> budget)
      : kernels_(kernels), half_(half), scale_(scale), budget_(std::move(budget)) {
    invFreq_.reset(new double[size_t(half)]);
    std::memcpy(invFreq_.get(), invFreq, size_t(half) * sizeof(double));
    chunks_.reset(new std::atomic<Chunk*>[size_t(kCachePositions / kCacheChunkRows)]);
    for (int64_t i = 0; i < kCachePositions / kCacheChunkRows; i++) chunks_[i].store(nullptr, std::memory_order_relaxed);
  }
  ~CosSinTable() {
    for (int64_t i = 0; i < kCachePositions / kCacheChunkRows; i++) {
      Chunk* c = chunks_[i].load(std::memory_order_acquire);
      if (c == nullptr) continue;
      ::operator delete(c);
      budget_->fetch_sub(chunkBytes(), std::memory_order_relaxed);
    }
  }
  CosSinTable(const CosSinTable&) = delete;
  CosSinTable& operator=(const CosSinTable&) = delete;

  // Its frequencies: a checked (finite) copy, immutable while the Table lives.
  const double* invFreq() const { return invFreq_.get(); }

  bool matches(const KernelTable* kernels, const double* invFreq, int64_t half, double scale) const {
    return kernels == kernels_ && half == half_ && std::memcmp(&scale, &scale_, sizeof scale) == 0 &&
           std::memcmp(invFreq, invFreq_.get(), size_t(half) * sizeof(double)) == 0;
  }

  // The cos row (sin follows at +half) of `position`, computed now if no call has yet; nullptr if
  // it cannot be cached (position out of range, budget spent, another thread writing it now).
  const float* row(int64_t position) {
    // (Negative too: positions were checked when the call was made, but an async call's
    // Int32Array, or a shared one, can be rewritten by JS while the walk runs.)
    if (position < 0 || position >= kCachePositions) return nullptr;
    Chunk* c = chunk(position / kCacheChunkRows);
    if (c == nullptr) return nullptr;
    const int64_t i = position % kCacheChunkRows;
    float* data = c->rows() + i * 2 * half_;
    uint8_t state = c->state[i].load(std::memory_order_acquire);
    if (state == kReady) return data;
    if (state != kEmpty || !c->state[i].compare_exchange_strong(state, kWriting, std::memory_order_acquire))
      return nullptr;
    const double pos = double(position);
    // The row's positions: `half` copies of one position (the kernel takes one per pair).
    double posRow[kCacheChunkRows];
    for (int64_t j = 0; j < half_; j += kCacheChunkRows) {
      const int64_t n = half_ - j < kCacheChunkRows ? half_ - j : kCacheChunkRows;
      for (int64_t m = 0; m < n; m++) posRow[m] = pos;
      kernels_->cosSin(posRow, invFreq_.get() + j, n, scale_, scale_, data + j, data + half_ + j);
    }
    c->state[i].store(kReady, std::memory_order_release);
    return data;
  }

 private:
  enum : uint8_t { kEmpty = 0, kWriting = 1, kReady = 2 };
  struct Chunk {
    std::atomic<uint8_t> state[kCacheChunkRows];
    float* rows() { return reinterpret_cast<float*>(reinterpret_cast<char*>(this) + kRowsAt); }
  };
  static constexpr int64_t kRowsAt = (sizeof(Chunk) + 63) / 64 * 64;

  int64_t chunkBytes() const { return kRowsAt + kCacheChunkRows * 2 * half_ * int64_t(sizeof(float)); }

  Chunk* chunk(int64_t index) {
    Chunk* c = chunks_[index].load(std::memory_order_acquire);
    if (c != nullptr) return c;
    const int64_t bytes = chunkBytes();
    if (budget_->fetch_add(bytes, std::memory_order_relaxed) + bytes > kCacheBytes) {
      budget_->fetch_sub(bytes, std::memory_order_relaxed);
      return nullptr;
    }
    void* mem = ::operator new(size_t(bytes), std::nothrow);
    if (mem == nullptr) {
      budget_->fetch_sub(bytes, std::memory_order_relaxed);
      return nullptr;
    }
    Chunk* fresh = static_cast<Chunk*>(mem);
    for (int64_t i = 0; i < kCacheChunkRows; i++) new (&fresh->state[i]) std::atomic<uint8_t>(kEmpty);
    if (chunks_[index].compare_exchange_strong(c, fresh, std::memory_order_acq_rel)) return fresh;
    ::operator delete(mem);  // another thread installed one first: use it
    budget_->fetch_sub(bytes, std::memory_order_relaxed);
    return c;
  }

  const KernelTable* kernels_;
  int64_t half_;
  double scale_;
  std::unique_ptr<double[]> invFreq_;
  std::unique_ptr<std::atomic<Chunk*>[]> chunks_;
  std::shared_ptr<std::atomic<int64_t>> budget_;
};

// The Tables of one NativeRope, most recently used first. Only its JS thread calls find/insert (a
// NativeRope belongs to one thread; async calls are prepared there too), so it takes no lock;
// the walk threads only touch a Table through the pointer in their Plan.
class CosSinCache {
 public:
  // The Table for this key, now the most recently used, or nullptr if there is none. invFreq is
  // only compared (it may be the caller's unchecked array).
  const std::shared_ptr<CosSinTable>* find(const KernelTable* kernels, const double* invFreq, int64_t half,
                                           double scale) {
    for (int i = 0; i < kCacheTables; i++) {
      if (!tables_[i] || !tables_[i]->matches(kernels, invFreq, half, scale)) continue;
      if (i > 0) {
        std::shared_ptr<CosSinTable> t = std::move(tables_[i]);
        for (int j = i; j > 0; j--) tables_[j] = std::move(tables_[j - 1]);
        tables_[0] = std::move(t);
      }
      return &tables_[0];
    }
    return nullptr;
  }

  // Bytes of cached rows held now by this cache's Tables (those an async call still holds count
  // until it lets go). Never more than kCacheBytes.
  int64_t bytes() const { return budget_->load(std::memory_order_relaxed); }

  // A new Table for this key (invFreq checked finite by the caller), replacing the least recently
  // used; empty when there is no memory for one (the call then computes every row). The
  // reference is valid until the next find/insert; a call that outlives that (async) keeps a copy.
  const std::shared_ptr<CosSinTable>& insert(const KernelTable* kernels, const double* invFreq, int64_t half,
                                             double scale) {
    std::shared_ptr<CosSinTable> t;
    try {
      t = std::make_shared<CosSinTable>(kernels, invFreq, half, scale, budget_);
    } catch (const std::bad_alloc&) {
      return none_;
    }
    for (int j = kCacheTables - 1; j > 0; j--) tables_[j] = std::move(tables_[j - 1]);
    tables_[0] = std::move(t);
    return tables_[0];
  }

 private:
  std::shared_ptr<CosSinTable> tables_[kCacheTables];
  std::shared_ptr<std::atomic<int64_t>> budget_ = std::make_shared<std::atomic<int64_t>>(0);
  const std::shared_ptr<CosSinTable> none_;
};

}  // namespace rope
