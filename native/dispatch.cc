#include "dispatch.h"

#include <atomic>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#endif

namespace rope {
namespace {

struct Candidate {
  const char* name;
  const KernelTable& (*table)();
};

// Best first.
const Candidate kCandidates[] = {
    {"avx512", &avx512Kernels},
    {"avx2", &avx2Kernels},
    {"neon", &neonKernels},
    {"scalar", &scalarKernels},
};

#if defined(__x86_64__)
uint64_t readXcr0() {
  uint32_t eax, edx;
  // xgetbv by opcode: the intrinsic needs -mxsave, and this file is built for baseline x86-64.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}

struct X86Features {
  bool avx2 = false;    // AVX2 + FMA + F16C, OS saves YMM
  bool avx512 = false;  // AVX-512 F/BW/DQ/VL on top of avx2, OS saves opmask + ZMM
};

X86Features detectX86() {
  X86Features f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28),
       f16c = c & (1u << 29);
  if (!(osxsave && avx)) return f;
  uint64_t xcr0 = readXcr0();
  bool ymmState = (xcr0 & 0x6) == 0x6;     // SSE + AVX state
  bool zmmState = (xcr0 & 0xE0) == 0xE0;   // opmask, ZMM_Hi256, Hi16_ZMM
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  bool avx2 = b & (1u << 5), avx512f = b & (1u << 16), avx512dq = b & (1u << 17),
       avx512bw = b & (1u << 30), avx512vl = b & (1u << 31);
  f.avx2 = ymmState && avx2 && fma && f16c;
  f.avx512 = f.avx2 && zmmState && avx512f && avx512dq && avx512bw && avx512vl;
  return f;
}
#endif

// Why the CPU cannot run `name`, or nullptr if it can.
const char* cpuLacks(const char* name) {
  if (std::strcmp(name, "scalar") == 0) return nullptr;
#if defined(__x86_64__)
  static const X86Features f = detectX86();
  if (std::strcmp(name, "avx2") == 0)
    return f.avx2 ? nullptr : "this CPU/OS lacks AVX2+FMA+F16C with YMM state enabled";
  if (std::strcmp(name, "avx512") == 0)
    return f.avx512 ? nullptr
                    : "this CPU/OS lacks AVX-512 F/BW/DQ/VL with ZMM state enabled";
  return "neon runs only on arm64 (this is x86-64)";
#elif defined(__aarch64__)
  if (std::strcmp(name, "neon") == 0) {
    // Advanced SIMD is baseline on armv8-a; check anyway (HWCAP_ASIMD = bit 1).
    return (getauxval(AT_HWCAP) & (1ul << 1)) ? nullptr : "this CPU lacks Advanced SIMD";
  }
  return "avx2/avx512 run only on x86-64 (this is arm64)";
#else
  (void)name;
  return "no SIMD kernels for this architecture";
#endif
}

const KernelTable* bestTable() {
  for (const Candidate& c : kCandidates) {
    const KernelTable& t = c.table();
    if (t.isa != nullptr && cpuLacks(c.name) == nullptr) return &t;
  }
  return &scalarKernels();
}

std::atomic<const KernelTable*> gActive{nullptr};

}  // namespace

const KernelTable* findKernels(const char* isa, std::string* error) {
  if (isa == nullptr || *isa == '\0') return bestTable();
  for (const Candidate& c : kCandidates) {
    if (std::strcmp(c.name, isa) != 0) continue;
    const KernelTable& t = c.table();
    if (t.isa == nullptr) {
      if (error) *error = std::string("ISA '") + isa + "' is not compiled into this build";
      return nullptr;
    }
    if (const char* why = cpuLacks(c.name)) {
      if (error) *error = std::string("ISA '") + isa + "' is not supported: " + why;
      return nullptr;
    }
    return &t;
  }
  if (error)
    *error = std::string("ISA '") + isa + "' is not one of avx512, avx2, neon, scalar";
  return nullptr;
}

const KernelTable& activeKernels() {
  const KernelTable* t = gActive.load(std::memory_order_acquire);
  if (t == nullptr) {
    const KernelTable* best = bestTable();
    // First caller wins; a concurrent selectKernels() is not overwritten.
    if (gActive.compare_exchange_strong(t, best, std::memory_order_acq_rel)) t = best;
  }
  return *t;
}

bool selectKernels(const char* isa, std::string* error) {
  const KernelTable* t = findKernels(isa, error);
  if (t == nullptr) return false;
  gActive.store(t, std::memory_order_release);
  return true;
}

std::vector<std::string> supportedIsas() {
  std::vector<std::string> out;
  for (const Candidate& c : kCandidates) {
    if (c.table().isa != nullptr && cpuLacks(c.name) == nullptr) out.emplace_back(c.name);
  }
  return out;
}

}  // namespace rope
