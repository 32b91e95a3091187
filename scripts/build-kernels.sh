#!/usr/bin/env bash
# Rebuilds trainer/kernels/bmm.wasm from bmm.c. Needs Debian's clang and lld (apt-get install clang lld);
# the .wasm is committed, so users and CI never need a C toolchain.
set -euo pipefail
cd "$(dirname "$0")/../trainer/kernels"
clang --target=wasm32 -msimd128 -O3 -nostdlib -fno-builtin -fno-vectorize -fno-slp-vectorize \
  -Wl,--no-entry -Wl,--import-memory -Wl,--export=__heap_base -o bmm.wasm bmm.c
ls -l bmm.wasm
