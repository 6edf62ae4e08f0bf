/**
 * Issue 22 item 3, through HTTP: does the server keep answering while it records, imports and
 * searches very large messages? A real server (no local model; a remote provider whose upstream
 * answers at once) on this thread; the client, the upstream and a `/health/live` poller (every
 * 50 ms) in a worker thread (bench/_stall-client.ts), so only the server's own work shows.
 *
 *   npm run bench -- history-stalls     # about a minute
 *
 * Each row: the request's time, how many `/health/live` answers came while it was in flight, the
 * longest one of them waited (the stall a user of the server saw), and the longest delay of the
 * server's own event loop meanwhile (`monitorEventLoopDelay`, 10 ms resolution: what the server's
 * thread did, without the poller's own scheduling on a loaded machine).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { pino } from "pino";
import { createServer } from "../server/app.js";
import { loadConfig } from "../server/config.js";
import { seededRandom } from "../server/util/seeded-random.js";
import type { StallCommand, StallSample } from "./_stall-client.js";
import { largeText, TextGen } from "./history.js";
import type { BenchOptions, BenchResult } from "./types.js";

const KEY = "bench-stall-key-5d1e";
const POLL_MS = 50;

/** Sends `cmd` to the worker and waits for its one answer. */
function ask<T>(worker: Worker, cmd: StallCommand, transfer: ArrayBuffer[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.once("error", reject);
    worker.once("message", (answer: T) => {
      worker.off("error", reject);
      resolve(answer);
    });
    worker.postMessage(cmd, transfer);
  });
}

const round = (v: number) => Math.round(v * 10) / 10;

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-stalls-"));
  const server = createServer(
    loadConfig({ env: {}, overrides: { port: 0, dataDir, threads: 1, logLevel: "silent", apiKey: KEY } }),
    { logger: pino({ level: "silent" }) },
  );
  const url = await server.start();
  // A worker does not inherit tsx's loader on Node 20: register it before importing the entry (as bench/engine.ts).
  const entry = new URL("./_stall-client.ts", import.meta.url).href;
  const boot = `import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  const worker = new Worker(boot, { eval: true });
  const rows: (StallSample & { loopMaxMs: number })[] = [];
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  try {
    const upstreamUrl = await ask<string>(worker, { kind: "upstream" });
    const added = await fetch(`${url}/api/providers`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({
        id: "up",
        name: "up",
        kind: "openai-compatible",
        baseUrl: upstreamUrl,
        discover: false,
        models: ["m"],
      }),
    });
    if (added.status !== 201) throw new Error(`adding the provider: ${added.status} ${await added.text()}`);

    const rand = seededRandom(22);
    const gen = new TextGen(rand);
    const request = async (label: string, p: string, method: string, body?: unknown) => {
      const cmd: StallCommand = {
        kind: "request",
        label,
        url: `${url}${p}`,
        key: KEY,
        method,
        // Bytes made here and moved, not copied: the server's thread only does the server's work.
        ...(body !== undefined ? { body: new TextEncoder().encode(JSON.stringify(body)) } : {}),
        pollMs: POLL_MS,
      };
      loop.reset();
      const sample = await ask<StallSample>(worker, cmd, cmd.body ? [cmd.body.buffer as ArrayBuffer] : []);
      return { ...sample, loopMaxMs: loop.max / 1e6 };
    };
    const chat = (content: string) => ({ model: "up/m", messages: [{ role: "user", content }] });

    const reps = opts.quick ? 1 : 3;
    for (let i = 0; i < reps; i++) {
      rows.push(
        await request(
          "record a 19 MB /v1 message",
          "/v1/chat/completions",
          "POST",
          chat(largeText(gen, rand, "log", 19_000_000)),
        ),
      );
    }
    const wide = {
      format: "hearth-history",
      version: 1,
      exportedAt: Date.now(),
      conversations: [
        {
          id: "conv_wide",
          title: "wide",
          source: "ui",
          model: null,
          provider: null,
          systemPrompt: null,
          params: {},
          pinned: false,
          createdAt: 1,
          updatedAt: 1,
          messages: Array.from({ length: 200 }, (_, i) => ({
            id: i + 1,
            parentId: i === 0 ? null : i,
            active: true,
            role: i % 2 === 0 ? "user" : "assistant",
            content: largeText(gen, rand, "prose", 65_000),
            reasoning: null,
            reasoningMs: null,
            toolCalls: null,
            toolCallId: null,
            model: null,
            promptTokens: null,
            completionTokens: null,
            finishReason: null,
            status: "complete",
            error: null,
            tokensPerSecond: null,
            ttftMs: null,
            createdAt: 1,
            updatedAt: 1,
          })),
        },
      ],
    };
    rows.push(await request("import 13 MB (200 x 65 KB)", "/api/import?onConflict=copy", "POST", wide));
    rows.push(
      await request(
        "record a 1.7 MB pasted log",
        "/v1/chat/completions",
        "POST",
        chat(largeText(gen, rand, "log", 1_700_000)),
      ),
    );
    for (const q of ["th", "the", "request took", "worker", "status=500"])
      rows.push(await request(`search '${q}'`, `/api/search?q=${encodeURIComponent(q)}`, "GET"));
  } finally {
    loop.disable();
    worker.postMessage({ kind: "close" } satisfies StallCommand);
    await worker.terminate();
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return rows.map((r) => ({
    name: r.label,
    metrics: {
      status: r.status,
      ms: round(r.ms),
      live_answers: r.liveAnswers,
      worst_live_ms: round(r.worstLiveMs),
      loop_max_ms: round(r.loopMaxMs),
      load_avg_1m: round(os.loadavg()[0] ?? 0),
    },
  }));
}
