// A small work-claiming pool: a job is a plan cut into `parts` contiguous token ranges; whoever
// runs the job (the caller first, helpers as they wake) claims the next part with one atomic
// increment. The caller always takes part, so a job finishes even if every helper is busy with
// other callers' jobs (no deadlock, no starvation of concurrent calls).
#include "pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

namespace rope {
namespace {

struct Job {
  PartFn fn = nullptr;
  void* ctx = nullptr;  // valid until done == parts (the caller waits for that)
  int64_t parts = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex m;
  std::condition_variable cv;
};

void runParts(Job& j) {
  int64_t finished = 0;
  for (;;) {
    const int64_t i = j.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= j.parts) break;
    j.fn(j.ctx, i, j.parts);
    finished++;
  }
  // After the last part is counted the caller may return and free ctx: no access to it below.
  if (finished > 0 && j.done.fetch_add(finished, std::memory_order_acq_rel) + finished == j.parts) {
    std::lock_guard<std::mutex> lk(j.m);
    j.cv.notify_all();
  }
}

// Helper threads live in the addon's code: the binding pins the library when it loads
// (binding/exports.cc), so Node unloading it after a worker's exit never unmaps them.
class Pool {
 public:
  // Makes sure `helpers` threads exist; returns how many do (fewer if the OS refuses).
  int64_t ensure(int64_t helpers) {
    std::lock_guard<std::mutex> lk(m_);
    while (threads_ < helpers) {
      try {
        std::thread(&Pool::loop, this).detach();
      } catch (...) {  // std::system_error (no more threads) or bad_alloc: run with fewer
        break;
      }
      threads_++;
    }
    return std::min(threads_, helpers);
  }

  void submit(const std::shared_ptr<Job>& job, int64_t helpers) {
    {
      std::lock_guard<std::mutex> lk(m_);
      for (int64_t i = 0; i < helpers; i++) queue_.push_back(job);
    }
    if (helpers == 1)
      cv_.notify_one();
    else
      cv_.notify_all();
  }

  int64_t threads() {
    std::lock_guard<std::mutex> lk(m_);
    return threads_;
  }

 private:
  void loop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [this] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      runParts(*job);  // a job already finished is a no-op (its parts are all claimed)
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  int64_t threads_ = 0;
};

// Never destroyed: helper threads block on its condition variable until the process exits.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

void parallelFor(int64_t parts, int64_t threads, PartFn fn, void* ctx) {
  std::shared_ptr<Job> job;
  if (parts > 1 && threads > 1) {
    try {
      job = std::make_shared<Job>();
    } catch (const std::bad_alloc&) {
    }
  }
  if (!job) {
    for (int64_t i = 0; i < parts; i++) fn(ctx, i, parts);
    return;
  }
  job->fn = fn;
  job->ctx = ctx;
  job->parts = parts;
  const int64_t helpers = pool().ensure(std::min(parts, threads) - 1);
  if (helpers > 0) {
    try {
      pool().submit(job, helpers);
    } catch (...) {  // bad_alloc in the queue: the caller runs whatever no helper claims
    }
  }
  runParts(*job);
  std::unique_lock<std::mutex> lk(job->m);
  job->cv.wait(lk, [&] { return job->done.load(std::memory_order_acquire) == parts; });
}

int64_t poolThreads() { return pool().threads(); }

}  // namespace rope
