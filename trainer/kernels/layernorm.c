// LayerNorm over the last axis, forward and backward, one pass over the rows each. As tfjs ops a
// forward is ten kernels (moments, rsqrt, sub, mul, mul, add ...), and at decode time, one token a
// row, their fixed cost per call is most of a norm's time. WebAssembly SIMD; every sum runs in a
// fixed order, so a result depends only on its inputs. Built into bmm.wasm (scripts/build-kernels.sh).
#include <wasm_simd128.h>

// Σ v[0..n) with four interleaved partial sums (the same order on every call)
static float sum(const float* v, int n) {
  v128_t acc = wasm_f32x4_splat(0.0f);
  int j = 0;
  for (; j + 4 <= n; j += 4) acc = wasm_f32x4_add(acc, wasm_v128_load(v + j));
  float s = (wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1)) +
            (wasm_f32x4_extract_lane(acc, 2) + wasm_f32x4_extract_lane(acc, 3));
  for (; j < n; j++) s += v[j];
  return s;
}

// Σ a[j]·b[j] (or Σ (a[j] − c)² when b is null), same order as sum()
static float dot(const float* a, const float* b, float c, int n) {
  v128_t acc = wasm_f32x4_splat(0.0f), cv = wasm_f32x4_splat(c);
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    v128_t x = wasm_v128_load(a + j);
    v128_t y = b ? wasm_v128_load(b + j) : (x = wasm_f32x4_sub(x, cv));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(x, y));
  }
  float s = (wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1)) +
            (wasm_f32x4_extract_lane(acc, 2) + wasm_f32x4_extract_lane(acc, 3));
  for (; j < n; j++) s += b ? a[j] * b[j] : (a[j] - c) * (a[j] - c);
  return s;
}

// y = x̂·w + b with x̂ = (x − mean)·inv and inv = 1/√(var + eps), per row of x [N, d];
// x̂ and inv are kept for the backward pass
__attribute__((export_name("layernorm")))
void layernorm(const float* x, const float* w, const float* b, float* y, float* xhat, float* inv, int N, int d, float eps) {
  for (int r = 0; r < N; r++) {
    const float* xr = x + (long)r * d;
    float mean = sum(xr, d) / (float)d;
    float var = dot(xr, 0, mean, d) / (float)d;
    float iv = 1.0f / __builtin_sqrtf(var + eps);
    inv[r] = iv;
    float* hr = xhat + (long)r * d;
    float* yr = y + (long)r * d;
    for (int j = 0; j < d; j++) {
      hr[j] = (xr[j] - mean) * iv;
      yr[j] = hr[j] * w[j] + b[j];
    }
  }
}

// dx = (g − mean(g) − x̂·mean(g·x̂))·inv with g = dy·w, per row; dw = Σ_rows dy·x̂ and db = Σ_rows dy,
// rows first to last. g is scratch of d floats.
__attribute__((export_name("layernormgrad")))
void layernormgrad(const float* dy, const float* xhat, const float* inv, const float* w, float* dx, float* dw, float* db,
                   float* g, int N, int d) {
  for (int j = 0; j < d; j++) dw[j] = db[j] = 0.0f;
  for (int r = 0; r < N; r++) {
    const float* dyr = dy + (long)r * d;
    const float* hr = xhat + (long)r * d;
    for (int j = 0; j < d; j++) {
      g[j] = dyr[j] * w[j];
      dw[j] += dyr[j] * hr[j];
      db[j] += dyr[j];
    }
    float mg = sum(g, d) / (float)d;
    float mgx = dot(g, hr, 0.0f, d) / (float)d;
    float* dxr = dx + (long)r * d;
    for (int j = 0; j < d; j++) dxr[j] = (g[j] - mg - hr[j] * mgx) * inv[r];
  }
}
