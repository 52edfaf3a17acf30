// The numeric limits a call is held to, stated once for lib/. The native side states the same
// numbers in native/call_limits.h (the binding re-checks them: anything may call it directly);
// test/native/contracts.test.ts parses both files and fails when a name or a value differs.

/** An explicit `threads` is an integer in [1, MAX_THREADS] ('auto' aside). */
export const MAX_THREADS = 1024;
/** headDim at most 2^24 (far beyond any model; keeps index math small). */
export const MAX_HEAD_DIM = 2 ** 24;
/** A prepared step's qHeads and kHeads at most 2^24. */
export const MAX_HEADS = 2 ** 24;
/** rotaryDim at most 8192: the native walk's per-token scratch (rotaryDim/2 pairs) fits on any
 * thread's stack. */
export const MAX_ROTARY_DIM = 8192;
/** |invFreq| stays below this: position * invFreq (positions < 2^31) then stays below 2^52, where
 * every engine's angle reduction is exact (native/kernels/sincos.h, lib/cossin.ts;
 * test/engines/exact-angles.test.ts checks every engine against a 320-bit reference up to invFreq 1.99e6).
 * Real models have invFreq <= 1. */
export const MAX_INV_FREQ = 2 ** 21;
/** Positions are integers in [0, POSITION_LIMIT). */
export const POSITION_LIMIT = 2 ** 31;
