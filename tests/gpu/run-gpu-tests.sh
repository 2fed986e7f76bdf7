#!/bin/sh
# GPU checks, run by `make test-gpu` after it has built them (make gpu-checks):
#   1. scan_harness: the CUDA selective scan against the CPU reference, fresh
#      random inputs, poisoned outputs, guard bytes;
#   2. forward_check: the inference forward of every architecture against
#      the CPU forward;
#   3. train_check: every training op, whole-model gradients and AdamW steps
#      against the CPU;
#   4. test_model_golden on the GPU: the whole-model fixtures of the
#      independent float64 reference (every layout, RMSNorm and LayerNorm,
#      both combines) through the GPU forward;
#   5. test_gpu_cli.sh: every command with --device cuda against --device cpu.
# Without an NVIDIA GPU it says so and passes; on a GPU machine a check that
# was not built is a failure, never a skip.
#   tests/gpu/run-gpu-tests.sh BUILD_DIR
set -u
build=${1:-build}
cd "$(dirname "$0")/../.."
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "GPU checks SKIPPED: no NVIDIA GPU on this machine (nothing ran)"
    exit 0
fi
gpu=$(nvidia-smi -L | head -n 1)
echo "GPU checks on: $gpu"
failed=0
ran=""
for check in scan_harness forward_check train_check test_model_golden; do
    bin="$build/gpu/$check"
    env=""
    case $check in
    scan_harness) args=--no-bench ;;
    test_model_golden) args="" bin="$build/tests/$check" env="MD_TEST_DEVICE=cuda" ;;
    *) args="" ;;
    esac
    if [ ! -x "$bin" ]; then
        echo "[  FAILED  ] $check: $bin was not built (make gpu-checks BUILD=$build)"
        failed=$((failed + 1))
        continue
    fi
    echo "[ RUN      ] $env $bin $args"
    if env $env "$bin" $args; then
        echo "[  PASSED  ] $check"
        ran="$ran $check"
    else
        echo "[  FAILED  ] $check (exit $?)"
        failed=$((failed + 1))
    fi
done
if [ ! -x "$build/mambadna" ]; then
    echo "[  FAILED  ] test_gpu_cli.sh: $build/mambadna was not built"
    failed=$((failed + 1))
else
    echo "[ RUN      ] tests/gpu/test_gpu_cli.sh $build/mambadna"
    if PYTHON=${PYTHON:-python3} tests/gpu/test_gpu_cli.sh "$build/mambadna"; then
        echo "[  PASSED  ] test_gpu_cli.sh"
        ran="$ran test_gpu_cli.sh"
    else
        echo "[  FAILED  ] test_gpu_cli.sh"
        failed=$((failed + 1))
    fi
fi
echo "GPU checks passed:${ran:- none}; failed: $failed"
[ "$failed" -eq 0 ]
