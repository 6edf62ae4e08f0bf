#!/usr/bin/env bash
# Packs what bench/gpu-check.sh needs beyond the working tree, for a GPU machine with no Node.js,
# no npm and no network, that takes the working tree plus at most 64 MiB of ignored files a call
# (the device machines lent to sessions here; BENCHMARKS.md, "GPU"): this Node binary, the
# production node_modules for Linux x64 (CPU and CUDA binaries only) plus tsx and openai, and the
# bench model, as one gzip-compressed tar split into parts under .gpu-bundle/ (about 6 parts of
# 56 MiB). On the GPU machine, with every part in place:
#   cat .gpu-bundle/part-* | gzip -dc | tar -x && NODE=.gpu-run/node HEARTH_MODELS_DIR=.gpu-run/models bench/gpu-check.sh
# Environment: HEARTH_MODELS_DIR (default ../shared/models), GPU_BUNDLE_MODEL (a file in it,
# default bench-86M-q4_k_m.gguf), GPU_BUNDLE_PART_MIB (default 56).
set -euo pipefail
cd "$(dirname "$0")/.."
models="${HEARTH_MODELS_DIR:-../shared/models}"
model="${GPU_BUNDLE_MODEL:-bench-86M-q4_k_m.gguf}"
part_mib="${GPU_BUNDLE_PART_MIB:-56}"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/.gpu-run/models"
cp "$(command -v node)" "$stage/.gpu-run/node"
cp "$models/$model" "$stage/.gpu-run/models/"

# The packages the server and the bench load: package.json's dependencies and, for the bench, tsx
# and openai, with theirs (optional ones included when installed), resolved the way Node does.
# Other platforms' binaries, the CUDA "fallback" build (374 MB, for machines without the CUDA
# libraries) and Electron's own SQLite build stay behind.
node - >"$stage/list" <<'JS'
const fs = require("node:fs");
const path = require("node:path");
const skip = /^(@node-llama-cpp\/(linux-arm64|linux-armv7l|linux-x64-vulkan|linux-x64-cuda-ext|(mac|win)-.*)|better-sqlite3-electron|electron.*)$/;
const seen = new Set();
const visit = (name, from) => {
  if (skip.test(name)) return;
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (fs.existsSync(path.join(candidate, "package.json"))) {
      const rel = path.relative(process.cwd(), candidate);
      if (seen.has(rel)) return;
      seen.add(rel);
      const pkg = JSON.parse(fs.readFileSync(path.join(candidate, "package.json"), "utf8"));
      for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) visit(dep, candidate);
      return;
    }
    if (dir === path.dirname(dir)) return; // not installed (an optional dependency for another platform)
  }
};
const root = JSON.parse(fs.readFileSync("package.json", "utf8"));
for (const dep of [...Object.keys(root.dependencies), "tsx", "openai"]) visit(dep, process.cwd());
// A nested package travels with its parent.
const kept = [...seen].sort().filter((p, i, all) => !all.slice(0, i).some((q) => p.startsWith(`${q}/`)));
console.log(kept.join("\n"));
JS

rm -rf .gpu-bundle
mkdir -p .gpu-bundle
tar -cf - -T "$stage/list" -C "$stage" .gpu-run | gzip -6 | split -b "${part_mib}M" -d -a 2 - .gpu-bundle/part-
ls -l .gpu-bundle
echo "gpu-bundle: $(wc -l <"$stage/list") packages, model $model; carry one part a call, then unpack (see the header)"
