// Matrix products of the wasm backend handed to the machine's own BLAS (OpenBLAS, Accelerate or
// MKL, found at run time with dlopen), when one is installed: WebAssembly has 4-wide SIMD and no
// fma, so its best sgemm reaches ~20 GFLOP/s a core where OpenBLAS reaches ~90 on the same core.
// The tensors stay where tfjs keeps them: JS passes the wasm heap's ArrayBuffer and byte offsets,
// and sgemm reads and writes that memory in place. One BLAS thread per call: the data-parallel
// engine runs one rank per core. Node-API is ABI-stable, so the few functions used are declared
// here (no headers); build: scripts/build-native.mjs, at `npm install`, skipped without a compiler.
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

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

// bmm(heap, a, b, out, batch, M, K, N, transA, transB, strideA, strideB): for each batch entry i,
// out[M,N] = op(A)·op(B), A and B row-major at byte offsets a + 4·strideA·i and b + 4·strideB·i
// (a stride of 0 broadcasts one matrix; the KV cache's matrices lie cap·d_head floats apart).
static napi_value bmm(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  double v[11];
  void* base;
  size_t bytes;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 12 || !sgemm || napi_get_arraybuffer_info(env, argv[0], &base, &bytes) != 0) {
    napi_throw_error(env, NULL, "bmm: needs an open BLAS, the heap's ArrayBuffer and 11 numbers");
    return NULL;
  }
  for (int i = 0; i < 11; i++)
    if (napi_get_value_double(env, argv[i + 1], &v[i]) != 0) {
      napi_throw_error(env, NULL, "bmm: arguments 2-12 must be numbers");
      return NULL;
    }
  // offsets are bytes into a heap of up to 4 GB, past int32; the rest are sizes tfjs keeps small
  size_t a = (size_t)v[0], b = (size_t)v[1], out = (size_t)v[2], strideA = (size_t)v[9], strideB = (size_t)v[10];
  int batch = (int)v[3], M = (int)v[4], K = (int)v[5], N = (int)v[6], transA = v[7] != 0, transB = v[8] != 0;
  char* heap = (char*)base;
  if (!single_threaded) {
    if (set_threads) set_threads(1);
    single_threaded = 1;
  }
  if ((size_t)M * N * batch * 4 + out > bytes) {
    napi_throw_error(env, NULL, "bmm: the output runs past the heap");
    return NULL;
  }
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

static void export_fn(napi_env env, napi_value exports, const char* name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, (size_t)-1, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

__attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  export_fn(env, exports, "open", open_blas);
  export_fn(env, exports, "loaded", which);
  export_fn(env, exports, "bmm", bmm);
  return exports;
}
