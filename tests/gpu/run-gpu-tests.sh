#!/bin/sh
# GPU tests: every CUDA kernel, forward and backward, against the CPU reference on fresh random
# inputs with poisoned outputs (cuda/dev harnesses). Skipped, and said so,
# where there is no NVIDIA GPU or no nvcc.
#   tests/gpu/run-gpu-tests.sh BUILD_DIR
set -u
build=${1:-build}
cd "$(dirname "$0")/../.."
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "GPU tests skipped: no NVIDIA GPU on this machine (the CUDA backend was built: $( [ -f "$build/cuda/scan.o" ] && echo yes || echo no))"
    exit 0
fi
if ! command -v nvcc >/dev/null 2>&1; then
    echo "GPU tests skipped: nvcc not found"
    exit 0
fi
out="$build/gpu"
mkdir -p "$out"
CF="-O3 -march=native -fopenmp -std=c11 -D_GNU_SOURCE -Wno-psabi -Isrc -Icuda/dev/stub"
set -e
gcc $CF -c src/cpu/ops.c -o "$out/ops.o"
gcc $CF -c src/log.c -o "$out/log.o"
gcc $CF -c cuda/dev/scan_ref.c -o "$out/scan_ref.o"
nvcc -O3 -std=c++17 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -Isrc \
    cuda/scan.cu cuda/dev/scan_harness.cu "$out/ops.o" "$out/log.o" "$out/scan_ref.o" \
    -Xcompiler -fopenmp -o "$out/scan_harness"
"$out/scan_harness" --no-bench
echo "[  PASSED  ] GPU selective scan against the CPU reference"

# The whole inference forward (cuda/forward.cu) against the CPU forward on
# random models of the three architectures: needs the CUDA build of the
# library (make CUDA=1; `make test-gpu` builds it first).
if [ ! -f "$build/libmambadna.a" ] || [ ! -f "$build/cuda/forward.o" ]; then
    echo "GPU forward check skipped: $build has no CUDA build of the library (make CUDA=1 BUILD=$build)"
    exit 0
fi
cuda_lib="$(dirname "$(command -v nvcc)")/../lib64"
gcc -std=c11 -D_GNU_SOURCE -O2 -fopenmp -Wall -Wextra -Werror -Wno-psabi -Isrc \
    $(pkg-config --cflags openblas 2>/dev/null) -DMD_HAVE_CUDA \
    cuda/dev/forward_check.c "$build/libmambadna.a" -o "$out/forward_check" \
    -lhts -lBigWig -ljansson -lcrypto -lopenblas -lz -lm -lpthread \
    -L"$cuda_lib" -lcublasLt -lcublas -lcudart -lstdc++ -Wl,-rpath,"$cuda_lib"
"$out/forward_check"
echo "[  PASSED  ] GPU inference forward against the CPU forward"

# Training: every training op and whole-model gradients and AdamW steps
# (cuda/grad_ops.cu, cuda/train.cu) against the CPU.
gcc -std=c11 -D_GNU_SOURCE -O2 -fopenmp -Wall -Wextra -Werror -Wno-psabi -Isrc \
    -I"$cuda_lib/../include" -DMD_HAVE_CUDA \
    cuda/dev/train_check.c "$build/libmambadna.a" -o "$out/train_check" \
    -lhts -lBigWig -ljansson -lcrypto -lopenblas -lz -lm -lpthread \
    -L"$cuda_lib" -lcublasLt -lcublas -lcudart -lstdc++ -Wl,-rpath,"$cuda_lib"
"$out/train_check"
echo "[  PASSED  ] GPU training ops, gradients and steps against the CPU"

# Every command end to end on the GPU against the CPU.
PYTHON=${PYTHON:-/usr/bin/python3} tests/gpu/test_gpu_cli.sh "$build/mambadna"
echo "[  PASSED  ] GPU commands against the CPU"
