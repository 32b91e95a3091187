// Exact GELU, x·Φ(x), forward and backward in one pass each, WebAssembly SIMD. tfjs's wasm Erf and
// Exp are scalar library calls: with matrix products on BLAS they were a fifth of a training step.
// Φ comes from erfc (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7 everywhere), so the
// negative tail, where Φ is tiny, keeps its relative precision; exp is Cody-Waite reduction and a
// degree-6 polynomial (< 2 ulp on the range used). Both are long dependency chains, so four vectors
// go through each step together (2x the speed of one at a time). Built into bmm.wasm
// (scripts/build-kernels.sh).
#include <wasm_simd128.h>

#define SPLAT wasm_f32x4_splat
#define ADD wasm_f32x4_add
#define MUL wasm_f32x4_mul

#define U 4  // vectors in flight; more makes clang spill to a stack, which this module must not have
#define FOR for (int u = 0; u < U; u++)

// e^x for x in [-87, 0] (the callers only need non-positive arguments; larger are clamped to 0)
static void exp_neg(v128_t* x, v128_t* out) {
  v128_t n[U], r[U], p[U];
  FOR x[u] = wasm_f32x4_max(wasm_f32x4_min(x[u], SPLAT(0.0f)), SPLAT(-87.0f));
  FOR n[u] = wasm_f32x4_nearest(MUL(x[u], SPLAT(1.44269504088896341f)));
  FOR r[u] = ADD(x[u], MUL(n[u], SPLAT(-0.693359375f)));  // ln 2 split in two so n·ln2_hi is exact
  FOR r[u] = ADD(r[u], MUL(n[u], SPLAT(2.12194440e-4f)));
  FOR p[u] = SPLAT(1.0f / 720);
  FOR p[u] = ADD(MUL(p[u], r[u]), SPLAT(1.0f / 120));
  FOR p[u] = ADD(MUL(p[u], r[u]), SPLAT(1.0f / 24));
  FOR p[u] = ADD(MUL(p[u], r[u]), SPLAT(1.0f / 6));
  FOR p[u] = ADD(MUL(p[u], r[u]), SPLAT(0.5f));
  FOR p[u] = ADD(MUL(p[u], r[u]), SPLAT(1.0f));
  FOR p[u] = ADD(MUL(p[u], r[u]), SPLAT(1.0f));
  // 2^n through the exponent bits; n ≥ -126 here, so the scale is a normal number
  FOR out[u] = MUL(p[u], wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n[u]), wasm_i32x4_splat(127)), 23));
}

// Φ(x) = 0.5·erfc(−x/√2), by erfc(z) = t·exp(−z² + P(t)) with t = 1/(1 + z/2) for z = |x|/√2 ≥ 0
static void cdf(const v128_t* x, v128_t* out) {
  v128_t z[U], t[U], p[U], e[U];
  FOR z[u] = MUL(wasm_f32x4_abs(x[u]), SPLAT(0.70710678118654752f));
  FOR t[u] = wasm_f32x4_div(SPLAT(1.0f), ADD(SPLAT(1.0f), MUL(SPLAT(0.5f), z[u])));
  FOR p[u] = SPLAT(0.17087277f);
  FOR p[u] = ADD(MUL(p[u], t[u]), SPLAT(-0.82215223f));
  FOR p[u] = ADD(MUL(p[u], t[u]), SPLAT(1.48851587f));
  FOR p[u] = ADD(MUL(p[u], t[u]), SPLAT(-1.13520398f));
  FOR p[u] = ADD(MUL(p[u], t[u]), SPLAT(0.27886807f));
  FOR p[u] = ADD(MUL(p[u], t[u]), SPLAT(-0.18628806f));
  FOR p[u] = ADD(MUL(p[u], t[u]), SPLAT(0.09678418f));
  FOR p[u] = ADD(MUL(p[u], t[u]), SPLAT(0.37409196f));
  FOR p[u] = ADD(MUL(p[u], t[u]), SPLAT(1.00002368f));
  FOR p[u] = ADD(MUL(p[u], t[u]), SPLAT(-1.26551223f));
  FOR p[u] = wasm_f32x4_sub(p[u], MUL(z[u], z[u]));
  exp_neg(p, e);
  // x ≥ 0: 1 − ½erfc(z); x < 0: ½erfc(z)
  FOR {
    v128_t half_erfc = MUL(SPLAT(0.5f), MUL(t[u], e[u]));
    out[u] = wasm_v128_bitselect(half_erfc, wasm_f32x4_sub(SPLAT(1.0f), half_erfc), wasm_f32x4_lt(x[u], SPLAT(0.0f)));
  }
}

// lanes i..i+4 of v, zeros past n (the tail runs through the same vector code); n < 0: no end
static inline __attribute__((always_inline)) v128_t load(const float* v, int i, int n) {
  if (n < 0 || i + 4 <= n) return wasm_v128_load(v + i);
  return wasm_f32x4_make(i < n ? v[i] : 0.0f, i + 1 < n ? v[i + 1] : 0.0f, i + 2 < n ? v[i + 2] : 0.0f, 0.0f);
}

static inline __attribute__((always_inline)) void store(float* v, int i, int n, v128_t x) {
  if (n < 0 || i + 4 <= n) {
    wasm_v128_store(v + i, x);
    return;
  }
  if (i < n) v[i] = wasm_f32x4_extract_lane(x, 0);
  if (i + 1 < n) v[i + 1] = wasm_f32x4_extract_lane(x, 1);
  if (i + 2 < n) v[i + 2] = wasm_f32x4_extract_lane(x, 2);
}

// y = x·Φ(x) and phi = Φ(x) (kept for the backward pass), n floats each
static inline __attribute__((always_inline)) void gelu_block(const float* x, float* y, float* phi, int i, int n) {
  v128_t v[U], c[U];
  FOR v[u] = load(x, i + 4 * u, n);
  cdf(v, c);
  FOR {
    store(phi, i + 4 * u, n, c[u]);
    store(y, i + 4 * u, n, MUL(v[u], c[u]));
  }
}

__attribute__((export_name("gelu")))
void gelu(const float* x, float* y, float* phi, int n) {
  int i = 0;
  // whole blocks with n = -1 ("no end"), so the bounds checks fold away
  for (; i + 4 * U <= n; i += 4 * U) gelu_block(x, y, phi, i, -1);
  if (i < n) gelu_block(x, y, phi, i, n);
}

// dx = dy·(Φ(x) + x·φ(x)) with φ(x) = e^(−x²/2)/√(2π)
static inline __attribute__((always_inline)) void grad_block(const float* dy, const float* x, const float* phi, float* dx, int i, int n) {
  v128_t v[U], e[U];
  FOR v[u] = load(x, i + 4 * u, n);
  FOR e[u] = MUL(SPLAT(-0.5f), MUL(v[u], v[u]));
  exp_neg(e, e);
  FOR {
    v128_t pdf = MUL(SPLAT(0.39894228040143268f), e[u]);
    store(dx, i + 4 * u, n, MUL(load(dy, i + 4 * u, n), ADD(load(phi, i + 4 * u, n), MUL(v[u], pdf))));
  }
}

__attribute__((export_name("gelugrad")))
void gelugrad(const float* dy, const float* x, const float* phi, float* dx, int n) {
  int i = 0;
  for (; i + 4 * U <= n; i += 4 * U) grad_block(dy, x, phi, dx, i, -1);
  if (i < n) grad_block(dy, x, phi, dx, i, n);
}
