// The only thing an ISA provides: the innermost row operations. Everything else (the walk over
// batch/tokens/heads, positions, threads, bounds) is shared in walk.cc and knows no ISA.
#pragma once
#include <cstdint>

namespace rope {

enum DType : int { kF32 = 0, kF16 = 1, kBF16 = 2, kDTypeCount = 3 };
enum Style : int { kHalf = 0, kInterleaved = 1, kStyleCount = 2 };

// Rotates the first 2*half elements of one head row in place; elements past them are not touched
// (not even read-and-rewritten: another thread may own them).
//   kHalf:        pairs (j, j + half)   (rotate_half; HF Llama, GPT-NeoX, llama.cpp NEOX)
//   kInterleaved: pairs (2j, 2j + 1)    (GPT-J, RoFormer, llama.cpp NORM)
// For pair j with first x and second y:
//   x' = x*cos[j] - y*sin[j];   y' = y*cos[j] + x*sin[j]
// with x*c and y*s exact (in double), their sum rounded once to double, then once to the storage
// dtype, nearest-even: for f16/bf16 exactly what the JS engine gives, on every ISA (loops.h).
// f32 on SIMD: x' = fma(x, c, -(y*s)) in f32 (within 2 ulp of the row's max |value| of the JS
// engine's value, and the exact one wherever that is +-0); the scalar kernel is exact for f32 too.
// cos/sin already carry attentionScaling and, for the inverse rotation, the sign of sin.
// Tails (half not a multiple of the lane count) are masked or done scalar: never read or write
// past row + 2*half elements.
using RowKernel = void (*)(void* row, const float* cos, const float* sin, int64_t half);

// Fills cos[j], sin[j] for j < n with scale*cos(pos[j]*invFreq[j]) and sinScale*sin(...),
// rounded to f32 once. The angle is formed and reduced exactly enough that the result is
// float32-accurate for every pos < 2^31 (float64 product with its FMA error term, Cody-Waite
// reduction by pi/2), never as float32(pos)*float32(invFreq).
using CosSinRow = void (*)(const double* pos, const double* invFreq, int64_t n, double scale,
                           double sinScale, float* cos, float* sin);

// The benchmark's memory limit: data[i] = data[i] * factor over n elements of one dtype, in place
// (reads and writes exactly the bytes a rotation does, with one multiply).
using ScaleKernel = void (*)(void* data, int64_t n, float factor);

// `count` rows strideBytes apart (every head of one token), each exactly as RowKernel rotates it,
// with the same cos/sin (so an ISA may keep them in registers across the rows). rowBlock: how many
// rows a kernel may sweep at a time (>= count: all of them): the walk asks for small blocks when a
// call streams its rows from memory (walk.cc), since sweeping all rows once per group of pairs
// then touches each row's lines several times, far apart.
using RowsKernel = void (*)(void* row0, int64_t strideBytes, int64_t count, const float* cos,
                            const float* sin, int64_t half, int64_t rowBlock);

struct KernelTable {
  const char* isa;  // its name in isas.def
  RowKernel rotate[kStyleCount][kDTypeCount];
  CosSinRow cosSin;
  ScaleKernel scale[kDTypeCount];
  RowsKernel rotateRows[kStyleCount][kDTypeCount];
};

// One per ISA file (isas.def); a table whose isa is nullptr means "not compiled into this build".
#define ROPE_ISA(name, table, cpu) const KernelTable& table();
#include "isas.def"
#undef ROPE_ISA

}  // namespace rope
