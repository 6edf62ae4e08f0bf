#!/usr/bin/env bash
# Issue 19 part 4 on a machine with an NVIDIA GPU, in one go (about 3-5 minutes with bench-86M,
# under 8 with the limit below): the machine noted (nvidia-smi, Node, the CUDA libraries
# node-llama-cpp's prebuilt binary needs), then `npm run bench -- gpu` with its JSON, Markdown and
# log written to $OUT (bench/results when unset). BENCHMARKS.md, "GPU", says what to do with them.
#
# Assumes the repository with node_modules installed (`npm ci` on a Linux x64 machine brings
# @node-llama-cpp/linux-x64-cuda), or unpacked from bench/gpu-bundle.sh's parts. Environment:
#   OUT                 where the results go (default bench/results)
#   NODE                the Node.js binary (default: node on the PATH)
#   HEARTH_MODELS_DIR   the folder of the bench models (default ../shared/models)
#   GPU_BENCH_MODEL     a bigger GGUF to measure instead of bench-86M (a path or a file in the models folder)
#   GPU_BENCH_LIMIT_S   the bench's time limit in seconds (default 420)
# Extra arguments go to the bench (e.g. --quick). Exit status: the bench's (1 when a row failed,
# e.g. a layer left on the CPU), 124 when it ran out of time (its rows so far are in the log).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-bench/results}"
node="${NODE:-node}"
mkdir -p "$out"

# The prebuilt CUDA binary links libcudart and libcublas (CUDA 13); where the loader does not find
# them, look where CUDA toolkits and NVIDIA's Python wheels put them.
cuda_lib=node_modules/@node-llama-cpp/linux-x64-cuda/bins/linux-x64-cuda/libggml-cuda.so
if [ -f "$cuda_lib" ] && ldd "$cuda_lib" 2>/dev/null | grep -q "libcu.*not found"; then
  for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13; do
    found=$(find /usr/local /usr/lib /opt -name "$lib" 2>/dev/null | head -1)
    [ -n "$found" ] && export LD_LIBRARY_PATH="$(dirname "$found")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  done
fi

{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "node: $("$node" --version)"
  nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv 2>&1 || echo "nvidia-smi: not found"
  echo "LD_LIBRARY_PATH: ${LD_LIBRARY_PATH:-}"
  ldd "$cuda_lib" 2>&1 | grep -E "cuda|cublas" || true
} | tee "$out/gpu-machine.txt"

args=(gpu --out "$out")
[ -n "${GPU_BENCH_MODEL:-}" ] && args+=(--model "$GPU_BENCH_MODEL")
timeout "${GPU_BENCH_LIMIT_S:-420}" "$node" --import tsx bench/run.ts "${args[@]}" "$@" 2>&1 | tee "$out/gpu-bench.log"
status=${PIPESTATUS[0]}
echo "gpu-check: exit $status; results in $out" | tee -a "$out/gpu-bench.log"
exit "$status"
