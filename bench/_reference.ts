/**
 * llama.cpp's own tools as the reference (issue 3): `llama-bench` for one stream and
 * `llama-server -np 8` for eight, built from the very source node-llama-cpp bundles
 * (node_modules/node-llama-cpp/llama/gitRelease.bundle) in a temporary folder, never committed.
 *
 *   node --import tsx bench/_reference.ts build    # about 15-30 min of CPU on 2 cores, nice'd
 *
 * The binaries are looked up in $HEARTH_LLAMA_REF_DIR (a folder holding llama-bench and
 * llama-server), else <tmp>/hearth-llama-ref/build/bin. Benchmarks skip the reference without them.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const defaultRoot = path.join(os.tmpdir(), "hearth-llama-ref");

export function referenceBinDir(): string {
  return process.env.HEARTH_LLAMA_REF_DIR ?? path.join(defaultRoot, "build", "bin");
}

/** Paths of llama-bench and llama-server, or null when they have not been built. */
export function findReference(): { bench: string; server: string } | null {
  const dir = referenceBinDir();
  const bench = path.join(dir, "llama-bench");
  const server = path.join(dir, "llama-server");
  return fs.existsSync(bench) && fs.existsSync(server) ? { bench, server } : null;
}

/** Clones the bundled source and builds llama-bench and llama-server with the local build's options. */
export function buildReference(root = defaultRoot): void {
  const bundle = path.join(repoRoot, "node_modules", "node-llama-cpp", "llama", "gitRelease.bundle");
  const src = path.join(root, "src");
  const build = path.join(root, "build");
  const sh = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { stdio: "inherit" });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed`);
  };
  if (!fs.existsSync(src)) sh("git", ["clone", "--quiet", bundle, src]);
  // Same switches as node-llama-cpp's own local build (GGML_NATIVE, OpenMP on, no curl/openssl).
  sh("nice", [
    "-n",
    "10",
    "cmake",
    "-S",
    src,
    "-B",
    build,
    "-G",
    "Ninja",
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=ON",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DGGML_CCACHE=OFF",
  ]);
  sh("nice", [
    "-n",
    "10",
    "cmake",
    "--build",
    build,
    "-j",
    String(os.availableParallelism()),
    "--target",
    "llama-bench",
    "llama-server",
  ]);
}

export interface LlamaBenchRow {
  threads: number;
  /** Generated tokens/s (tg), mean over repetitions. */
  tokensPerSecond: number;
  stddev: number;
}

/** `llama-bench -p 0 -n <tokens>` for each thread count: one stream's generation speed. */
export async function llamaBench(
  model: string,
  threads: number[],
  tokens: number,
  repetitions: number,
): Promise<LlamaBenchRow[]> {
  const ref = findReference();
  if (!ref) throw new Error("llama-bench not built");
  const out = await capture(ref.bench, [
    "-m",
    model,
    "-t",
    threads.join(","),
    "-p",
    "0",
    "-n",
    String(tokens),
    "-r",
    String(repetitions),
    "-o",
    "json",
  ]);
  const rows = JSON.parse(out) as { n_threads: number; avg_ts: number; stddev_ts: number }[];
  return rows.map((r) => ({ threads: r.n_threads, tokensPerSecond: r.avg_ts, stddev: r.stddev_ts }));
}

/** A command's standard output, or a rejection with the end of its standard error. */
export function capture(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.once("close", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err.slice(-500)}`)),
    );
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.once("error", reject);
  });
}

export interface ReferenceServer {
  url: string;
  pid: number;
  close(): Promise<void>;
}

/** `llama-server -np <parallel>` with `ctxPerSlot` tokens per slot, ready to serve. */
/** `threadsBatch` is llama.cpp's `-tb`: threads for a decode of more than one token (defaults to `threads`). */
export async function startLlamaServer(
  model: string,
  opts: { parallel: number; threads: number; threadsBatch?: number; ctxPerSlot: number; extraArgs?: string[] },
): Promise<ReferenceServer> {
  const ref = findReference();
  if (!ref) throw new Error("llama-server not built");
  const port = await freePort();
  const child: ChildProcess = spawn(
    ref.server,
    [
      "-m",
      model,
      "-np",
      String(opts.parallel),
      "-t",
      String(opts.threads),
      "-tb",
      String(opts.threadsBatch ?? opts.threads),
      "-c",
      String(opts.ctxPerSlot * opts.parallel),
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--no-webui",
      "--log-disable",
      ...(opts.extraArgs ?? []),
    ],
    { stdio: "ignore" },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`llama-server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error("llama-server did not become ready in 60 s");
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    pid: child.pid ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "build") {
  buildReference();
  console.log(`Built llama-bench and llama-server in ${referenceBinDir()}`);
}
