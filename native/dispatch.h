// CPU features -> kernel table. The binary is built for baseline x86-64 / armv8-a; which ISA runs
// is decided here at load: the best one both compiled in and supported by the CPU and OS.
#pragma once
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace rope {

// The table in use (default: the best supported). Thread-safe: an atomic pointer, so a
// selectKernels() racing a running call only affects calls that start after it.
const KernelTable& activeKernels();

// Makes `isa` (a name in kernels/isas.def) the active table. nullptr or "" selects the
// best supported. Returns false and leaves the active table unchanged, with *error (if non-null)
// saying why, when the name is unknown, the ISA is not compiled into this build, or the CPU/OS
// cannot run it ("neon" on x86, "avx512" without ZMM state, ...). The binding calls it with
// ROPE_SIMD_ISA.
bool selectKernels(const char* isa, std::string* error);

// The table for `isa` if it is compiled in and this CPU can run it, else nullptr with *error.
// Does not change the active table (the kernel tests use it to run every ISA).
const KernelTable* findKernels(const char* isa, std::string* error);

// Every ISA this build and CPU can run, best first; always ends with "scalar".
std::vector<std::string> supportedIsas();

}  // namespace rope
