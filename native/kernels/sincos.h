// The exact cos/sin method, written once over an "ops" type so every ISA runs the same arithmetic
// (scalar: double; AVX2: 4 doubles; AVX-512: 8; NEON: 2). Each ISA file includes this inside its
// target region so the instantiation gets that ISA's code generation. Every multiply-add is an
// explicit fma, so compiler contraction cannot make two ISAs round differently.
//
// Angle: pos*invFreq = hi + lo exactly (lo = fma(pos, f, -hi)). k = nearest(hi*2/pi).
// r = hi - k*P1 is exact (both are multiples of 2^-52 and |r| < 1, or Sterbenz for |hi| < 1),
// then the small terms lo - k*P2 - k*P3 are added: absolute error ~2^-75 for pos < 2^31, far below
// what a float32 result needs even where sin/cos is small. fdlibm's kernel polynomials on
// [-pi/4, pi/4] (|error| < 2^-58), quadrant from k mod 4 computed in double (no int conversion,
// so NaN and huge k are harmless).
#pragma once

namespace rope {
namespace sincos {

constexpr double kPio2_1 = 1.5707963267948966;       // 0x3FF921FB54442D18
constexpr double kPio2_2 = 6.123233995736766e-17;    // 0x3C91A62633145C07
constexpr double kPio2_3 = -1.4973849048591698e-33;  // 0xB91F1976B7ED8FBC
constexpr double kTwoOverPi = 0.6366197723675814;

// fdlibm __kernel_sin / __kernel_cos.
constexpr double kS1 = -1.66666666666666324348e-01, kS2 = 8.33333333332248946124e-03,
                 kS3 = -1.98412698298579493134e-04, kS4 = 2.75573137070700676789e-06,
                 kS5 = -2.50507602534068634195e-08, kS6 = 1.58969099521155010221e-10;
constexpr double kC1 = 4.16666666666666019037e-02, kC2 = -1.38888888888741095749e-03,
                 kC3 = 2.48015872894767294178e-05, kC4 = -2.75573143513906633035e-07,
                 kC5 = 2.08757232129817482790e-09, kC6 = -1.13596475577881948265e-11;

// O provides: V, M, set(double), mul, add, fma(a,b,c)=a*b+c, neg, round (nearest even), floor,
// eq, ge -> M, orm(M,M), sel(M, ifTrue, ifFalse).
template <class O>
inline void sinCos(typename O::V hi, typename O::V lo, typename O::V* sinOut,
                   typename O::V* cosOut) {
  using V = typename O::V;
  V k = O::round(O::mul(hi, O::set(kTwoOverPi)));
  V nk = O::neg(k);
  V r = O::fma(nk, O::set(kPio2_1), hi);  // exact
  V w = O::fma(nk, O::set(kPio2_2), lo);
  w = O::fma(nk, O::set(kPio2_3), w);
  r = O::add(r, w);
  V z = O::mul(r, r);

  V ps = O::fma(O::set(kS6), z, O::set(kS5));
  ps = O::fma(ps, z, O::set(kS4));
  ps = O::fma(ps, z, O::set(kS3));
  ps = O::fma(ps, z, O::set(kS2));
  ps = O::fma(ps, z, O::set(kS1));
  V sinR = O::fma(O::mul(r, z), ps, r);

  V pc = O::fma(O::set(kC6), z, O::set(kC5));
  pc = O::fma(pc, z, O::set(kC4));
  pc = O::fma(pc, z, O::set(kC3));
  pc = O::fma(pc, z, O::set(kC2));
  pc = O::fma(pc, z, O::set(kC1));
  V cosR = O::fma(O::mul(z, z), pc, O::fma(O::set(-0.5), z, O::set(1.0)));

  // q = k mod 4 in {0,1,2,3}: sin(q*pi/2 + r), cos(q*pi/2 + r) from sinR, cosR.
  V q = O::fma(O::set(-4.0), O::floor(O::mul(k, O::set(0.25))), k);
  auto q1 = O::eq(q, O::set(1.0));
  auto q2 = O::eq(q, O::set(2.0));
  auto q3 = O::eq(q, O::set(3.0));
  auto swap = O::orm(q1, q3);
  V s = O::sel(swap, cosR, sinR);
  V c = O::sel(swap, sinR, cosR);
  *sinOut = O::sel(O::orm(q2, q3), O::neg(s), s);
  *cosOut = O::sel(O::orm(q1, q2), O::neg(c), c);
}

}  // namespace sincos
}  // namespace rope
