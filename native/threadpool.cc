// A small work-claiming pool: a job is a plan cut into `parts` contiguous token ranges; whoever
// runs the job (the caller first, helpers as they wake) claims the next part with one atomic
// increment. The caller always takes part, so a job finishes even if every helper is busy with
// other callers' jobs (no deadlock, no starvation of concurrent calls).
#include "threadpool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "walk.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <dlfcn.h>
#endif

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

// Keeps this shared library mapped for the life of the process: helper threads live in its code,
// and Node unloads an addon when the last worker_thread that loaded it exits.
void pinLibrary() {
#ifdef _WIN32
  HMODULE self = nullptr;
  GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                     reinterpret_cast<LPCWSTR>(&pinLibrary), &self);
#else
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&pinLibrary), &info) != 0 && info.dli_fname != nullptr)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);  // handle kept: never closed
#endif
}

class Pool {
 public:
  // Makes sure `helpers` threads exist; returns how many do (fewer if the OS refuses).
  int64_t ensure(int64_t helpers) {
    std::lock_guard<std::mutex> lk(m_);
    while (threads_ < helpers) {
      if (threads_ == 0) pinLibrary();
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

int64_t cores() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : int64_t(n);
}

}  // namespace

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

// Part i of a plan covers tokens [tokens*i/parts, tokens*(i+1)/parts): contiguous and
// deterministic; tokens*parts < 2^53 * 2^9 (64 threads x 8 chunks) cannot overflow.
void walkPart(void* ctx, int64_t i, int64_t parts) {
  const Plan& p = *static_cast<const Plan*>(ctx);
  walkRange(p, p.tokens * i / parts, p.tokens * (i + 1) / parts);
}

void walkThreaded(const Plan& p) {
  int64_t threads = resolveThreads(p);
  if (p.threads == kThreadsAuto && threads > 1) {
    const int64_t bytes = planBytes(p);
    AutoClass& a = autoClasses()[autoClass(bytes)];
    const int choice = autoChoice(a);
    if (choice == 0) threads = 1;
    const auto t0 = std::chrono::steady_clock::now();
    if (threads == 1)
      walk(p);
    else
      parallelFor(std::min(p.tokens, threads * kChunksPerThread), threads, walkPart, const_cast<Plan*>(&p));
    autoRecord(a, choice, double(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count()), bytes);
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

int64_t poolThreads() { return pool().threads(); }

}  // namespace rope
