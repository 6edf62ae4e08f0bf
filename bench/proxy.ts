/**
 * Issue 5's benchmark: the cost of the proxy hop. Two real Hearth servers run as child processes
 * (like real deployments): an upstream with the model, and a Hearth with no model that reaches it
 * as a remote provider (`up/<model>`). The client (this process) streams chat completions either
 * straight to the upstream or through the proxy, interleaved in alternating order within each
 * repetition, so both paths see the same machine load. Each round is `concurrency` requests at once.
 *
 * Reported per concurrency (1 and 8): time to first token (first SSE event with text) both ways and
 * the median of the per-round differences; tokens/s both ways (c=1: one stream's decode rate after
 * its first token; c=8: all tokens of the round over its wall time) and the median per-round ratio.
 * Targets: < 2 ms added to time to first token, < 3% throughput loss.
 *
 * A third path goes through a bare Node byte pipe (bench/_pipe-proxy.ts): the cost of any extra
 * process and loopback hop on this machine, against which Hearth's own share can be read. On a
 * busy machine every CPU-microsecond a proxy spends is taken from the upstream, so each proxy's
 * CPU time per token (Linux /proc) is reported too.
 *
 * `npm run bench -- proxy` (add `--quick` for a short run).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createParser } from "eventsource-parser";
import { modelPath } from "../test/helpers/models.js";
import type { BenchOptions, BenchResult } from "./types.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const UPSTREAM_KEY = "bench-upstream-key-0123";

interface Settings {
  /** A file in ../shared/models. */
  model: string;
  maxTokens: number;
  /** Interleaved direct/proxy repetitions per concurrency level. */
  reps: Record<number, number>;
}
/**
 * stories260K is the worst case for the hop (hundreds of tokens/s per stream, so the proxy's cost
 * per token weighs most); bench-86M runs at the pace of a real remote model and always generates
 * max_tokens (../shared/models/README.md).
 */
const FULL: Settings[] = [
  { model: "stories260K.gguf", maxTokens: 128, reps: { 1: 40, 8: 16 } },
  { model: "bench-86M-q4_k_m.gguf", maxTokens: 128, reps: { 1: 24, 8: 8 } },
];
const QUICK: Settings[] = [{ model: "stories260K.gguf", maxTokens: 48, reps: { 1: 8, 8: 4 } }];

interface Child {
  url: string;
  process: ChildProcess;
  dataDir: string;
}

async function startHearth(args: string[]): Promise<Child> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-proxy-"));
  return startChild(
    [
      "server/cli.ts",
      "serve",
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--log-level",
      "warn",
      "--record-api",
      "false",
      ...args,
    ],
    dataDir,
  );
}

async function startChild(args: string[], dataDir: string): Promise<Child> {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (m) resolve(m[0]);
    });
    child.once("exit", (code) => reject(new Error(`${args[0]} exited with ${code}: ${stderr}`)));
  });
  return { url, process: child, dataDir };
}

async function stop(child: Child | undefined): Promise<void> {
  if (!child) return;
  if (child.process.exitCode === null) {
    const exited = new Promise((r) => child.process.once("exit", r));
    child.process.kill("SIGTERM");
    await exited;
  }
  fs.rmSync(child.dataDir, { recursive: true, force: true });
}

interface Timing {
  ttftMs: number;
  /** From the first text to the end of the reply. */
  decodeMs: number;
  tokens: number;
  startedAt: number;
  endedAt: number;
}

let requestNumber = 0;

/** One streamed chat completion; the prompt differs from the first token so no request reuses another's KV cache. */
async function streamOnce(
  url: string,
  model: string,
  headers: Record<string, string>,
  maxTokens: number,
): Promise<Timing> {
  const n = requestNumber++;
  const startedAt = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({
      model,
      messages: [
        {
          role: "user",
          content: `${n} Once upon a time, there was a little girl named Lily. She loved to play outside`,
        },
      ],
      max_tokens: maxTokens,
      temperature: 0.8,
      seed: 42,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let first = 0;
  let tokens = 0;
  let failure: string | null = null;
  const parser = createParser({
    onEvent: (event) => {
      if (event.data === "[DONE]") return;
      const chunk = JSON.parse(event.data) as {
        choices?: { delta?: { content?: string | null } }[];
        usage?: { completion_tokens: number } | null;
        error?: { message: string };
      };
      if (chunk.error) failure = chunk.error.message;
      if (first === 0 && chunk.choices?.[0]?.delta?.content) first = performance.now();
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    },
  });
  const utf8 = new TextDecoder();
  for await (const bytes of res.body as unknown as AsyncIterable<Uint8Array>)
    parser.feed(utf8.decode(bytes, { stream: true }));
  const endedAt = performance.now();
  if (failure) throw new Error(failure);
  return { ttftMs: first - startedAt, decodeMs: endedAt - first, tokens, startedAt, endedAt };
}

const PATHS = ["direct", "proxy", "pipe"] as const;
type Path = (typeof PATHS)[number];

/** Client-side connection failures before any answer (a keep-alive race on a loaded machine) are retried once, and counted. */
let clientRetries = 0;
async function streamOnceRetried(
  url: string,
  model: string,
  headers: Record<string, string>,
  maxTokens: number,
): Promise<Timing> {
  try {
    return await streamOnce(url, model, headers, maxTokens);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    clientRetries++;
    return streamOnce(url, model, headers, maxTokens);
  }
}

interface Round {
  ttftMs: number;
  tokPerS: number;
  tokens: number;
}

/** CPU time (user + system, all threads) a process used so far, in ms; NaN where /proc is missing. */
function cpuMs(child: Child | undefined): number {
  if (!child) return Number.NaN;
  try {
    const fields = fs.readFileSync(`/proc/${child.process.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

/** `concurrency` requests at once: the median time to first token, and the round's tokens/s. */
async function round(
  url: string,
  model: string,
  headers: Record<string, string>,
  concurrency: number,
  maxTokens: number,
): Promise<Round> {
  const timings = await Promise.all(
    Array.from({ length: concurrency }, () => streamOnceRetried(url, model, headers, maxTokens)),
  );
  const ttftMs = median(timings.map((t) => t.ttftMs));
  const tokens = timings.reduce((n, t) => n + t.tokens, 0);
  if (concurrency === 1) {
    const t = timings[0]!;
    return { ttftMs, tokens, tokPerS: t.tokens > 1 ? ((t.tokens - 1) * 1000) / t.decodeMs : 0 };
  }
  const wall = Math.max(...timings.map((t) => t.endedAt)) - Math.min(...timings.map((t) => t.startedAt));
  return { ttftMs, tokens, tokPerS: (tokens * 1000) / wall };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const r2 = (v: number) => Math.round(v * 100) / 100;

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const settings of opts.quick ? QUICK : FULL) results.push(...(await runModel(settings)));
  return results;
}

async function runModel(settings: Settings): Promise<BenchResult[]> {
  const file = await modelPath(settings.model);
  const model = path.basename(file).replace(/\.gguf$/, "");
  let upstream: Child | undefined;
  let proxy: Child | undefined;
  let pipe: Child | undefined;
  try {
    upstream = await startHearth(["--model", file, "--threads", "1", "--parallel", "8", "--api-key", UPSTREAM_KEY]);
    proxy = await startHearth([]);
    pipe = await startChild(
      ["bench/_pipe-proxy.ts", "--upstream", upstream.url, "--key", UPSTREAM_KEY],
      fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-pipe-")),
    );
    const added = await fetch(`${proxy.url}/api/providers`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id: "up",
        name: "Upstream",
        kind: "vllm",
        baseUrl: `${upstream.url}/v1`,
        apiKey: UPSTREAM_KEY,
      }),
    });
    if (added.status !== 201) throw new Error(`adding the provider failed: ${await added.text()}`);

    const paths: Record<Path, () => [url: string, model: string, headers: Record<string, string>]> = {
      direct: () => [upstream!.url, model, { authorization: `Bearer ${UPSTREAM_KEY}` }],
      proxy: () => [proxy!.url, `up/${model}`, {}],
      pipe: () => [pipe!.url, model, {}],
    };
    // Warm every path (connections, JIT, the model's first batches).
    for (let i = 0; i < 4; i++) for (const p of PATHS) await round(...paths[p](), 8, 16);

    const results: BenchResult[] = [];
    for (const concurrency of [1, 8]) {
      const rounds: Record<Path, Round[]> = { direct: [], proxy: [], pipe: [] };
      const cpu = { proxy: 0, pipe: 0 };
      for (let rep = 0; rep < settings.reps[concurrency]!; rep++) {
        // Rotate the order every repetition, so no path always runs first, on a warmer or quieter machine.
        const order = PATHS.map((_, i) => PATHS[(i + rep) % PATHS.length]!);
        for (const which of order) {
          const before = { proxy: cpuMs(proxy), pipe: cpuMs(pipe) };
          rounds[which].push(await round(...paths[which](), concurrency, settings.maxTokens));
          if (which === "proxy") cpu.proxy += cpuMs(proxy) - before.proxy;
          if (which === "pipe") cpu.pipe += cpuMs(pipe) - before.pipe;
        }
      }
      const tokens = (p: Path) => rounds[p].reduce((n, r) => n + r.tokens, 0);
      /** Medians of per-repetition differences (ms) and ratios against the direct path. */
      const versusDirect = (p: Path) => ({
        added: median(rounds[p].map((r, i) => r.ttftMs - rounds.direct[i]!.ttftMs)),
        loss: (1 - median(rounds[p].map((r, i) => r.tokPerS / rounds.direct[i]!.tokPerS))) * 100,
      });
      const hearth = versusDirect("proxy");
      const bare = versusDirect("pipe");
      results.push({
        name: `proxy hop, concurrency ${concurrency}, ${settings.maxTokens} tokens, ${model}`,
        metrics: {
          ttft_direct_ms: r2(median(rounds.direct.map((r) => r.ttftMs))),
          ttft_proxy_ms: r2(median(rounds.proxy.map((r) => r.ttftMs))),
          ttft_added_ms: r2(hearth.added),
          tok_s_direct: r2(median(rounds.direct.map((r) => r.tokPerS))),
          tok_s_proxy: r2(median(rounds.proxy.map((r) => r.tokPerS))),
          throughput_loss_pct: r2(hearth.loss),
          bare_pipe_ttft_added_ms: r2(bare.added),
          bare_pipe_throughput_loss_pct: r2(bare.loss),
          proxy_cpu_us_per_token: r2((cpu.proxy * 1000) / tokens("proxy")),
          bare_pipe_cpu_us_per_token: r2((cpu.pipe * 1000) / tokens("pipe")),
          reps: rounds.direct.length,
          client_retries: clientRetries,
          load1: r2(os.loadavg()[0] ?? 0),
        },
        notes:
          `medians of ${rounds.direct.length} repetitions, each running direct, Hearth proxy and a bare byte-pipe proxy in rotating order; added TTFT and loss are medians of per-repetition differences and ratios against direct. ` +
          `Targets: < 2 ms added (${hearth.added < 2 ? "met" : "NOT met"}), < 3% loss (${hearth.loss < 3 ? "met" : "NOT met"}). ` +
          `${concurrency === 1 ? "tok/s = one stream's decode rate" : "tok/s = all tokens of the round / its wall time"}; upstream --threads 1 --parallel 8; the processes share the CPU.`,
      });
    }
    return results;
  } finally {
    await stop(pipe);
    await stop(proxy);
    await stop(upstream);
  }
}

// `node --import tsx bench/proxy.ts [--quick]` runs it alone.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const results = await run({ quick: process.argv.includes("--quick") });
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}
