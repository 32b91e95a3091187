// Batched float32 matrix multiply for the tfjs wasm backend, whose own batched matMul runs at
// ~1.5 GFLOP/s on these machines (attention's [B·H, T, T] products). A 4x16 register-blocked
// WebAssembly SIMD micro-kernel; transposed operands are first copied to row-major scratch.
// Build: scripts/build-kernels.sh (clang --target=wasm32 -msimd128 -O3, wasm-ld). No libc.
#include <wasm_simd128.h>

typedef unsigned long size_t;

// C[M,N] = A·B[K,N] with A's element (i, k) at A[i·si + k·sk]: row-major A has (si, sk) = (K, 1),
// a transposed one (stored [K, M]) has (1, M), so transA needs no copy.
static void gemm(const float* A, int si, int sk, const float* B, float* C, int M, int K, int N) {
  int i = 0;
  for (; i + 4 <= M; i += 4) {
    int j = 0;
    for (; j + 16 <= N; j += 16) {
      v128_t c[4][4];
      for (int r = 0; r < 4; r++)
        for (int q = 0; q < 4; q++) c[r][q] = wasm_f32x4_splat(0.0f);
      const float* a0 = A + (size_t)i * si;
      for (int k = 0; k < K; k++) {
        const float* b = B + (size_t)k * N + j;
        const float* ak = a0 + (size_t)k * sk;
        v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4), b2 = wasm_v128_load(b + 8), b3 = wasm_v128_load(b + 12);
        for (int r = 0; r < 4; r++) {
          v128_t a = wasm_f32x4_splat(ak[(size_t)r * si]);
          c[r][0] = wasm_f32x4_add(c[r][0], wasm_f32x4_mul(a, b0));
          c[r][1] = wasm_f32x4_add(c[r][1], wasm_f32x4_mul(a, b1));
          c[r][2] = wasm_f32x4_add(c[r][2], wasm_f32x4_mul(a, b2));
          c[r][3] = wasm_f32x4_add(c[r][3], wasm_f32x4_mul(a, b3));
        }
      }
      for (int r = 0; r < 4; r++) {
        float* cr = C + (size_t)(i + r) * N + j;
        wasm_v128_store(cr, c[r][0]);
        wasm_v128_store(cr + 4, c[r][1]);
        wasm_v128_store(cr + 8, c[r][2]);
        wasm_v128_store(cr + 12, c[r][3]);
      }
    }
    for (; j < N; j++)
      for (int r = 0; r < 4; r++) {
        float s = 0.0f;
        for (int k = 0; k < K; k++) s += A[(size_t)(i + r) * si + (size_t)k * sk] * B[(size_t)k * N + j];
        C[(size_t)(i + r) * N + j] = s;
      }
  }
  // leftover rows (decode steps have M = 1): one row at a time, still 16 columns per SIMD block
  for (; i < M; i++) {
    int j = 0;
    for (; j + 16 <= N; j += 16) {
      v128_t c0 = wasm_f32x4_splat(0.0f), c1 = c0, c2 = c0, c3 = c0;
      for (int k = 0; k < K; k++) {
        const float* b = B + (size_t)k * N + j;
        v128_t a = wasm_f32x4_splat(A[(size_t)i * si + (size_t)k * sk]);
        c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(a, wasm_v128_load(b)));
        c1 = wasm_f32x4_add(c1, wasm_f32x4_mul(a, wasm_v128_load(b + 4)));
        c2 = wasm_f32x4_add(c2, wasm_f32x4_mul(a, wasm_v128_load(b + 8)));
        c3 = wasm_f32x4_add(c3, wasm_f32x4_mul(a, wasm_v128_load(b + 12)));
      }
      float* cr = C + (size_t)i * N + j;
      wasm_v128_store(cr, c0);
      wasm_v128_store(cr + 4, c1);
      wasm_v128_store(cr + 8, c2);
      wasm_v128_store(cr + 12, c3);
    }
    for (; j < N; j++) {
      float s = 0.0f;
      for (int k = 0; k < K; k++) s += A[(size_t)i * si + (size_t)k * sk] * B[(size_t)k * N + j];
      C[(size_t)i * N + j] = s;
    }
  }
}

// dst[C,R] = src[R,C]ᵀ
static void transpose(const float* src, float* dst, int R, int C) {
  for (int r = 0; r < R; r++)
    for (int c = 0; c < C; c++) dst[(size_t)c * R + r] = src[(size_t)r * C + c];
}

// out[b] = op(A[b]) · op(B[b]) for b < batch, where op transposes when asked (B through scratch). A stride of 0 broadcasts
// one matrix over the batch. Shapes after op: [M,K]·[K,N]. scratchB holds K·N floats; scratchA is unused.
__attribute__((export_name("bmm")))
void bmm(const float* A, const float* B, float* out, float* scratchA, float* scratchB, int batch, int M, int K, int N,
         int transA, int transB, int strideA, int strideB) {
  for (int b = 0; b < batch; b++) {
    const float* a = A + (size_t)b * strideA;
    const float* bm = B + (size_t)b * strideB;
    if (transB) { transpose(bm, scratchB, N, K); bm = scratchB; }
    gemm(a, transA ? 1 : K, transA ? M : 1, bm, out + (size_t)b * M * N, M, K, N);
  }
}
