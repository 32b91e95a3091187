// Native kernels for the wasm backend, a Node-API add-on. Matrix products go to the machine's own
// BLAS (OpenBLAS, Accelerate or MKL, found at run time with dlopen) when one is installed:
// WebAssembly has 4-wide SIMD and no fma, so its best sgemm reaches ~20 GFLOP/s a core where
// OpenBLAS reaches ~90 on the same core. GELU runs here too, vectorized for the CPU it finds.
// The tensors stay where tfjs keeps them: JS passes the wasm heap's ArrayBuffer and byte offsets,
// and the kernels read and write that memory in place. One BLAS thread per call: the data-parallel
// engine runs one rank per core. Node-API is ABI-stable, so the few functions used are declared
// here (no headers); build: scripts/build-native.mjs, at `npm install`, skipped without a compiler.
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct napi_env__* napi_env;
typedef struct napi_value__* napi_value;
typedef struct napi_callback_info__* napi_callback_info;
typedef int napi_status;  // 0 = napi_ok
typedef napi_value (*napi_callback)(napi_env, napi_callback_info);
extern napi_status napi_create_function(napi_env, const char*, size_t, napi_callback, void*, napi_value*);
extern napi_status napi_set_named_property(napi_env, napi_value, const char*, napi_value);
extern napi_status napi_get_cb_info(napi_env, napi_callback_info, size_t*, napi_value*, napi_value*, void**);
extern napi_status napi_get_value_double(napi_env, napi_value, double*);
extern napi_status napi_get_value_string_utf8(napi_env, napi_value, char*, size_t, size_t*);
extern napi_status napi_get_arraybuffer_info(napi_env, napi_value, void**, size_t*);
extern napi_status napi_create_string_utf8(napi_env, const char*, size_t, napi_value*);
extern napi_status napi_get_undefined(napi_env, napi_value*);
extern napi_status napi_throw_error(napi_env, const char*, const char*);

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
static sgemm_fn sgemm;
static void (*set_threads)(int);
static char loaded[512];
// OpenBLAS's OpenMP build reads its thread count from the calling thread's OpenMP state, so each
// thread (main and every worker) must ask for one thread itself, or two ranks fight over the cores
static __thread int single_threaded;

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// open(path): loads the BLAS library at `path` (a file name for the dynamic loader, or a full path)
// and returns "" on success or why not. Process-wide: worker threads share the library.
static napi_value open_blas(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  char path[400], why[512] = "";
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, NULL) != 0) {
    napi_throw_error(env, NULL, "open(path): path must be a string");
    return NULL;
  }
  if (!sgemm) {
    void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    sgemm_fn f = lib ? (sgemm_fn)dlsym(lib, "cblas_sgemm") : NULL;
    if (!f) {
      const char* e = dlerror();
      for (size_t i = 0; e && e[i] && i + 1 < sizeof why; i++) why[i] = e[i];
    } else {
      set_threads = (void (*)(int))dlsym(lib, "openblas_set_num_threads");
      sgemm = f;
      for (size_t i = 0; path[i] && i + 1 < sizeof loaded; i++) loaded[i] = path[i];
    }
  }
  napi_create_string_utf8(env, why, (size_t)-1, &result);
  return result;
}

// loaded(): the library in use, or "" when none
static napi_value which(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_string_utf8(env, loaded, (size_t)-1, &result);
  return result;
}

// reads argc numbers after the heap (argument 0) into v; 0 and a thrown error on a bad call
static int heap_args(napi_env env, napi_callback_info info, size_t argc, char** heap, size_t* bytes, double* v) {
  napi_value argv[12];  // the heap and at most 11 numbers (bmm)
  size_t got = argc + 1;
  void* base;
  napi_get_cb_info(env, info, &got, argv, NULL, NULL);
  if (got != argc + 1 || napi_get_arraybuffer_info(env, argv[0], &base, bytes) != 0) {
    napi_throw_error(env, NULL, "native kernel: needs the heap's ArrayBuffer and byte offsets");
    return 0;
  }
  for (size_t i = 0; i < argc; i++)
    if (napi_get_value_double(env, argv[i + 1], &v[i]) != 0) {
      napi_throw_error(env, NULL, "native kernel: offsets and sizes must be numbers");
      return 0;
    }
  *heap = (char*)base;
  return 1;
}

// whether `floats` floats from byte offset `at` lie inside the heap; else `error` is thrown
static int fits(napi_env env, const char* error, size_t at, size_t floats, size_t bytes) {
  if (at + 4 * floats <= bytes) return 1;
  napi_throw_error(env, NULL, error);
  return 0;
}

// bmm(heap, a, b, out, batch, M, K, N, transA, transB, strideA, strideB): for each batch entry i,
// out[M,N] = op(A)·op(B), A and B row-major at byte offsets a + 4·strideA·i and b + 4·strideB·i
// (a stride of 0 broadcasts one matrix; the KV cache's matrices lie cap·d_head floats apart).
static napi_value bmm(napi_env env, napi_callback_info info) {
  double v[11];
  char* heap;
  size_t bytes;
  if (!sgemm) {
    napi_throw_error(env, NULL, "bmm: no BLAS library is open");
    return NULL;
  }
  if (!heap_args(env, info, 11, &heap, &bytes, v)) return NULL;
  // offsets are bytes into a heap of up to 4 GB, past int32; the rest are sizes tfjs keeps small
  size_t a = (size_t)v[0], b = (size_t)v[1], out = (size_t)v[2], strideA = (size_t)v[9], strideB = (size_t)v[10];
  int batch = (int)v[3], M = (int)v[4], K = (int)v[5], N = (int)v[6], transA = v[7] != 0, transB = v[8] != 0;
  if (!single_threaded) {
    if (set_threads) set_threads(1);
    single_threaded = 1;
  }
  if (!fits(env, "bmm: the output runs past the heap", out, (size_t)M * N * batch, bytes)) return NULL;
  if (M == 0 || N == 0) return undefined(env);
  if (K == 0) {  // sgemm would leave beta·C = 0·(whatever was there), NaN included
    for (size_t x = 0; x < (size_t)M * N * batch; x++) ((float*)(heap + out))[x] = 0.0f;
    return undefined(env);
  }
  for (int i = 0; i < batch; i++) {
    const float* A = (const float*)(heap + a) + (size_t)strideA * i;
    const float* B = (const float*)(heap + b) + (size_t)strideB * i;
    float* C = (float*)(heap + out) + (size_t)M * N * i;
    sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, M, N, K, 1.0f, A, transA ? M : K, B, transB ? K : N,
          0.0f, C, N);
  }
  return undefined(env);
}

// GELU exactly as gelu.c computes it (the same operations in the same order; the build turns off
// fused multiply-add contraction), so a native and a WebAssembly run give the same bits. Vectorized
// by the compiler, for AVX-512 and AVX2 where the CPU has them (chosen when the add-on loads).
#if defined(__x86_64__) && defined(__linux__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

static inline float exp_neg(float x) {  // e^x for x in [-87, 0]
  x = x < 0.0f ? x : 0.0f;
  x = x > -87.0f ? x : -87.0f;
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest even
  float r = x + n * -0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, 4);
  return p * scale;
}

static inline float cdf(float x) {  // Φ(x) = ½·erfc(−x/√2)
  float z = (x < 0.0f ? -x : x) * 0.70710678118654752f;
  float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t + -0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t + -1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t + -0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t + -1.26551223f;
  float half_erfc = 0.5f * (t * exp_neg(p - z * z));
  return x < 0.0f ? half_erfc : 1.0f - half_erfc;
}

CLONES static void gelu_rows(const float* restrict x, float* restrict y, float* restrict phi, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float c = cdf(x[i]);
    phi[i] = c;
    y[i] = x[i] * c;
  }
}

CLONES static void gelugrad_rows(const float* restrict dy, const float* restrict x, const float* restrict phi,
                                 float* restrict dx, size_t n) {
  for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (phi[i] + x[i] * (0.39894228040143268f * exp_neg(-0.5f * x[i] * x[i])));
}

// gelu(heap, x, y, phi, n): y = x·Φ(x) and phi = Φ(x), n floats at byte offsets into the heap
static napi_value gelu(napi_env env, napi_callback_info info) {
  double v[4];
  char* heap;
  size_t bytes;
  if (!heap_args(env, info, 4, &heap, &bytes, v)) return NULL;
  size_t n = (size_t)v[3];
  for (int i = 0; i < 3; i++)
    if (!fits(env, "gelu: an operand runs past the heap", (size_t)v[i], n, bytes)) return NULL;
  gelu_rows((const float*)(heap + (size_t)v[0]), (float*)(heap + (size_t)v[1]), (float*)(heap + (size_t)v[2]), n);
  return undefined(env);
}

// gelugrad(heap, dy, x, phi, dx, n): dx = dy·(Φ(x) + x·φ(x))
static napi_value gelugrad(napi_env env, napi_callback_info info) {
  double v[5];
  char* heap;
  size_t bytes;
  if (!heap_args(env, info, 5, &heap, &bytes, v)) return NULL;
  size_t n = (size_t)v[4];
  for (int i = 0; i < 4; i++)
    if (!fits(env, "gelugrad: an operand runs past the heap", (size_t)v[i], n, bytes)) return NULL;
  gelugrad_rows((const float*)(heap + (size_t)v[0]), (const float*)(heap + (size_t)v[1]), (const float*)(heap + (size_t)v[2]),
                (float*)(heap + (size_t)v[3]), n);
  return undefined(env);
}

static void export_fn(napi_env env, napi_value exports, const char* name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, (size_t)-1, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

__attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  export_fn(env, exports, "open", open_blas);
  export_fn(env, exports, "loaded", which);
  export_fn(env, exports, "bmm", bmm);
  export_fn(env, exports, "gelu", gelu);
  export_fn(env, exports, "gelugrad", gelugrad);
  return exports;
}
