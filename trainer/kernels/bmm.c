// Batched float32 matrix multiply and column sums for the tfjs wasm backend, whose own batched
// matMul runs at ~1.5 GFLOP/s on these machines (attention's [B·H, T, T] products) and whose
// transposed or fresh-operand products pay a transpose or a weight repack on every call.
// WebAssembly SIMD micro-kernels; transposed B is first copied to row-major scratch.
// Every output is Σ_k a·b summed in increasing k from 0, one multiply and one add per term (no
// fma in wasm), which is also how XNNPACK's kernels sum: swapping one for the other changes no bit.
// Build: scripts/build-kernels.sh (clang --target=wasm32 -msimd128 -O3, wasm-ld). No libc.
#include <wasm_simd128.h>

typedef unsigned long size_t;

// K is cut into chunks so a 16-column panel of B (KC·16 floats) stays in L1 while every row block
// of A passes over it; partial sums go through C between chunks, which keeps the k order.
#define KC 256

// 4x16 register blocks (16 accumulators); 6x8 and 4x8 blocks measured 20-40% slower here
#define NQ 4
#define NR (4 * NQ)

// rows [i, i+R) × columns [j, j+NR) of C over k in [k0, k0+kc), R ≤ 4
#define MICRO(R)                                                                                   \
  static void micro##R(const float* A, int si, int sk, const float* B, float* C, int N, int i, int j, \
                       int k0, int kc, int first) {                                                \
    v128_t c[R][NQ];                                                                               \
    for (int r = 0; r < R; r++) {                                                                  \
      float* cr = C + (size_t)(i + r) * N + j;                                                     \
      for (int q = 0; q < NQ; q++) c[r][q] = first ? wasm_f32x4_splat(0.0f) : wasm_v128_load(cr + 4 * q); \
    }                                                                                              \
    const float* a0 = A + (size_t)i * si + (size_t)k0 * sk;                                        \
    const float* b = B + (size_t)k0 * N + j;                                                       \
    for (int k = 0; k < kc; k++, a0 += sk, b += N) {                                               \
      v128_t bv[NQ];                                                                               \
      for (int q = 0; q < NQ; q++) bv[q] = wasm_v128_load(b + 4 * q);                              \
      for (int r = 0; r < R; r++) {                                                                \
        v128_t a = wasm_f32x4_splat(a0[(size_t)r * si]);                                           \
        for (int q = 0; q < NQ; q++) c[r][q] = wasm_f32x4_add(c[r][q], wasm_f32x4_mul(a, bv[q]));  \
      }                                                                                            \
    }                                                                                              \
    for (int r = 0; r < R; r++) {                                                                  \
      float* cr = C + (size_t)(i + r) * N + j;                                                     \
      for (int q = 0; q < NQ; q++) wasm_v128_store(cr + 4 * q, c[r][q]);                           \
    }                                                                                              \
  }
MICRO(4)
MICRO(1)

// C[M,N] = A·B[K,N] with A's element (i, k) at A[i·si + k·sk]: row-major A has (si, sk) = (K, 1),
// a transposed one (stored [K, M]) has (1, M), so transA needs no copy.
static void gemm(const float* A, int si, int sk, const float* B, float* C, int M, int K, int N) {
  if (K == 0) {
    for (size_t x = 0; x < (size_t)M * N; x++) C[x] = 0.0f;
    return;
  }
  for (int k0 = 0; k0 < K; k0 += KC) {
    int kc = K - k0 < KC ? K - k0 : KC;
    int first = k0 == 0;
    int j = 0;
    for (; j + NR <= N; j += NR) {
      int i = 0;
      for (; i + 4 <= M; i += 4) micro4(A, si, sk, B, C, N, i, j, k0, kc, first);
      for (; i < M; i++) micro1(A, si, sk, B, C, N, i, j, k0, kc, first);  // decode steps have M = 1
    }
    for (; j < N; j++)
      for (int i = 0; i < M; i++) {
        float s = first ? 0.0f : C[(size_t)i * N + j];
        for (int k = k0; k < k0 + kc; k++) s += A[(size_t)i * si + (size_t)k * sk] * B[(size_t)k * N + j];
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

// out[j] = Σ_r x[r, j] over rows r = 0..R-1 in order (a bias gradient): what a [1, R]·[R, C] product
// of ones gives, bit for bit, without packing x as a weight matrix on every call.
__attribute__((export_name("colsum")))
void colsum(const float* x, float* out, int R, int C) {
  for (int j = 0; j < C; j++) out[j] = 0.0f;
  // rows outer: x is read once, in order; each column still sums its rows first to last
  for (int r = 0; r < R; r++) {
    const float* xr = x + (size_t)r * C;
    int j = 0;
    for (; j + 4 <= C; j += 4) wasm_v128_store(out + j, wasm_f32x4_add(wasm_v128_load(out + j), wasm_v128_load(xr + j)));
    for (; j < C; j++) out[j] += xr[j];
  }
}

// dst[i, at + t, :] = src[i, t, :] for i < BH, t < T: rows of width w written into a cache of cap rows
__attribute__((export_name("writerows")))
void writerows(float* dst, const float* src, int BH, int T, int w, int cap, int at) {
  for (int i = 0; i < BH; i++) {
    float* d = dst + ((size_t)i * cap + at) * w;
    const float* s = src + (size_t)i * T * w;
    for (int x = 0; x < T * w; x++) d[x] = s[x];
  }
}

// out[r, j] += bias[j] for r < R, j < C: a linear layer's bias, added in place to its fresh product
// (one kernel call where tf.add would be a second one; x·W + b in the same order, the same bits)
__attribute__((export_name("addbias")))
void addbias(float* out, const float* bias, int R, int C) {
  for (int r = 0; r < R; r++) {
    float* o = out + (size_t)r * C;
    int j = 0;
    for (; j + 4 <= C; j += 4) wasm_v128_store(o + j, wasm_f32x4_add(wasm_v128_load(o + j), wasm_v128_load(bias + j)));
    for (; j < C; j++) o[j] += bias[j];
  }
}
