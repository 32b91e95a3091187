#!/usr/bin/env bash
# Rebuilds trainer/kernels/bmm.wasm from bmm.c, gelu.c and layernorm.c. Needs Debian's clang and lld (apt-get install clang lld);
# the .wasm is committed, so users and CI never need a C toolchain.
set -euo pipefail
cd "$(dirname "$0")/../trainer/kernels"
clang --target=wasm32 -msimd128 -O3 -nostdlib -fno-builtin -fno-vectorize -fno-slp-vectorize \
  -Wl,--no-entry -Wl,--import-memory -Wl,--export=__heap_base -o bmm.wasm bmm.c gelu.c layernorm.c
ls -l bmm.wasm
# the module runs on tfjs's memory with no stack of its own: code that needs one would write over tfjs's data
if llvm-objdump -d bmm.wasm | grep -q "global.get"; then echo "bmm.wasm uses a stack (a global): reduce the kernels' local arrays" >&2; exit 1; fi
