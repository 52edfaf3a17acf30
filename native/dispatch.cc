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

const X86Features& x86() {
  static const X86Features f = detectX86();
  return f;
}
#endif

#if defined(__x86_64__)
#define ROPE_HOST "x86-64"
#elif defined(__aarch64__)
#define ROPE_HOST "arm64"
#else
#define ROPE_HOST "this architecture"
#endif

// The CPU checks isas.def names: nullptr when this CPU and OS run the ISA, else why not.
const char* cpuAny() { return nullptr; }

const char* cpuAvx2() {
#if defined(__x86_64__)
  return x86().avx2 ? nullptr : "this CPU/OS lacks AVX2+FMA+F16C with YMM state enabled";
#else
  return "it runs only on x86-64 (this is " ROPE_HOST ")";
#endif
}

const char* cpuAvx512() {
#if defined(__x86_64__)
  return x86().avx512 ? nullptr : "this CPU/OS lacks AVX-512 F/BW/DQ/VL with ZMM state enabled";
#else
  return "it runs only on x86-64 (this is " ROPE_HOST ")";
#endif
}

const char* cpuNeon() {
#if defined(__aarch64__)
  // Advanced SIMD is baseline on armv8-a; check anyway (HWCAP_ASIMD = bit 1).
  return (getauxval(AT_HWCAP) & (1ul << 1)) ? nullptr : "this CPU lacks Advanced SIMD";
#else
  return "it runs only on arm64 (this is " ROPE_HOST ")";
#endif
}

struct Candidate {
  const char* name;
  const KernelTable& (*table)();
  const char* (*cpuLacks)();
};

// Best first: the registry's order.
const Candidate kCandidates[] = {
#define ROPE_ISA(name, table, cpu) {#name, &table, &cpu},
#include "kernels/isas.def"
#undef ROPE_ISA
};

// The registry's names, comma-separated: what a caller may pass.
std::string candidateNames() {
  std::string out;
  for (const Candidate& c : kCandidates) out += (out.empty() ? "" : ", ") + std::string(c.name);
  return out;
}

const KernelTable* bestTable() {
  for (const Candidate& c : kCandidates) {
    const KernelTable& t = c.table();
    if (t.isa != nullptr && c.cpuLacks() == nullptr) return &t;
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
    if (const char* why = c.cpuLacks()) {
      if (error) *error = std::string("ISA '") + isa + "' is not supported: " + why;
      return nullptr;
    }
    return &t;
  }
  if (error)
    *error = std::string("ISA '") + isa + "' is not one of " + candidateNames();
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
    if (c.table().isa != nullptr && c.cpuLacks() == nullptr) out.emplace_back(c.name);
  }
  return out;
}

}  // namespace rope
