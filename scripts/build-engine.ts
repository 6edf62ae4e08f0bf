/**
 * `npm run build:engine [-- --gpu cuda|vulkan|metal|auto] [-- --portable] [-- --clear]`: compiles the
 * llama.cpp source that node-llama-cpp bundles, for this machine (-march=native, OpenMP), offline.
 * `--portable` builds what installers ship instead: OpenMP with every CPU variant, chosen at load
 * time, so it runs on any CPU of the platform (PORTABLE_BUILD_CMAKE_OPTIONS; 11 min on 2 cores). Once it
 * exists node-llama-cpp loads it instead of the prebuilt npm binary and Hearth reports
 * `build: localBuild` (startup log, /health `engine.build`, metric `hearth_engine_info{build}`).
 * Measured on a 2-core x64 box (BENCHMARKS.md, "Native build"): one stream 1.5-4x and eight
 * sequences about 2x the prebuilt binary's tokens/s.
 *
 * Never part of `npm install`, the tests or CI: it takes minutes of CPU and needs cmake and a C++
 * compiler. `npm ci` (or reinstalling node-llama-cpp) removes the build; `--clear` removes it too.
 */
import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { PORTABLE_BUILD_CMAKE_OPTIONS } from "../server/engine/runtime.js";

const args = process.argv.slice(2);
const npx = process.platform === "win32" ? "npx.cmd" : "npx";

function run(command: string, commandArgs: string[], env: NodeJS.ProcessEnv = process.env): number {
  const result = spawnSync(command, commandArgs, { stdio: "inherit", shell: process.platform === "win32", env });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function has(command: string, versionArg = "--version"): boolean {
  const result = spawnSync(command, [versionArg], { stdio: "ignore", shell: process.platform === "win32" });
  return !result.error && result.status === 0;
}

if (args.includes("--clear")) {
  const code = run(npx, ["--no", "node-llama-cpp", "source", "clear", "--type", "all"]);
  if (code === 0) console.log("\nRemoved the local llama.cpp build: Hearth uses the prebuilt binary again.");
  process.exit(code);
}

if (!has("cmake")) {
  console.warn(
    "cmake was not found on PATH. node-llama-cpp would try to download one, which needs internet access to GitHub.\n" +
      "Install cmake (Debian/Ubuntu: apt-get install cmake; macOS: brew install cmake; Windows: the Visual Studio build tools) and run this again.",
  );
}
if (process.platform !== "win32" && !has("c++") && !has("clang++") && !has("g++")) {
  console.warn(
    "No C++ compiler found (c++, g++ or clang++). Install build-essential (Debian/Ubuntu) or the Xcode command line tools (macOS).",
  );
}

// CPU unless asked: the prebuilt GPU binaries are already optimized, and a CPU build is what the
// measurements above are about. `--gpu auto` builds for the GPU node-llama-cpp detects.
const gpuArgs = args.includes("--gpu") ? [] : ["--gpu", "false"];
console.log(`Building llama.cpp from node-llama-cpp's bundled source (offline; several minutes on small machines)...`);
const started = performance.now();
const portable = args.includes("--portable");
// node-llama-cpp reads custom CMake options from NODE_LLAMA_CPP_CMAKE_OPTION_* and files the build
// under their hash, where the runtime looks for exactly this set.
const portableEnv = Object.fromEntries(
  Object.entries(PORTABLE_BUILD_CMAKE_OPTIONS).map(([k, v]) => [`NODE_LLAMA_CPP_CMAKE_OPTION_${k}`, v]),
);
const code = run(
  npx,
  [
    "--no",
    "node-llama-cpp",
    "source",
    "download",
    ...gpuArgs,
    "--noUsageExample",
    ...args.filter((a) => a !== "--portable"),
  ],
  portable ? { ...process.env, ...portableEnv } : process.env,
);
if (code !== 0) {
  console.error(`\nThe build failed (exit ${code}). Hearth keeps using the prebuilt binary; nothing else changed.`);
  process.exit(code);
}
const minutes = (performance.now() - started) / 60_000;

// Load it the way the server does, to prove it is the one picked up.
const { createRuntime } = await import("../server/engine/runtime.js");
const { createLogger } = await import("../server/logger.js");
const runtime = await createRuntime({
  gpu: gpuArgs.length > 0 ? "cpu" : "auto",
  threads: 0,
  logger: createLogger("error"),
  binary: "auto",
});
console.log(
  `\nBuilt in ${minutes.toFixed(1)} min. Hearth now loads: ${runtime.buildType}, ${runtime.variant} (gpu: ${runtime.gpu})`,
);
console.log(runtime.llama.systemInfo);
await runtime.dispose();
if (runtime.buildType !== "localBuild") {
  console.error("The new build was not picked up; Hearth will keep using the prebuilt binary.");
  process.exit(1);
}
if (portable && runtime.variant !== "portable")
  console.log("A native build is also present and is preferred; `npm run build:engine -- --clear` removes both.");
console.log(
  `Hearth will use it from its next start (the startup log and /health say build: localBuild, variant: ${runtime.variant}). Undo with: npm run build:engine -- --clear`,
);
