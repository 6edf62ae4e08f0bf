/**
 * The outside world of bench/history-stalls.ts, in a worker thread so that none of its work
 * shares the server's event loop: an OpenAI-compatible upstream that answers every chat at once
 * (it never reads the prompt), a client that sends the large requests, and a poller that asks
 * `/health/live` every `pollMs` while one is in flight. What the poller sees is what any request
 * arriving meanwhile would wait.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { parentPort } from "node:worker_threads";

/** One large request and what `/health/live` did while it was in flight. */
export interface StallSample {
  label: string;
  status: number;
  ms: number;
  /** `/health/live` answers received while the request was in flight. */
  liveAnswers: number;
  /** The longest a `/health/live` request waited for its answer (sent to answered). */
  worstLiveMs: number;
}

export type StallCommand =
  | { kind: "upstream" }
  | { kind: "request"; label: string; url: string; key: string; method: string; body?: Uint8Array; pollMs: number }
  | { kind: "close" };

let upstream: http.Server | undefined;

async function startUpstream(): Promise<string> {
  upstream = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id: "chatcmpl-stall",
          object: "chat.completion",
          created: 0,
          model: "m",
          choices: [{ index: 0, message: { role: "assistant", content: "Noted." }, finish_reason: "stop" }],
          usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
        }),
      );
    });
  });
  await new Promise<void>((r) => upstream!.listen(0, "127.0.0.1", () => r()));
  return `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
}

async function measure(cmd: Extract<StallCommand, { kind: "request" }>): Promise<StallSample> {
  const origin = new URL(cmd.url).origin;
  let inFlight = true;
  let liveAnswers = 0;
  let worstLiveMs = 0;
  const poller = (async () => {
    while (inFlight) {
      const sent = performance.now();
      await (await fetch(`${origin}/health/live`)).text();
      const waited = performance.now() - sent;
      if (inFlight) {
        liveAnswers++;
        worstLiveMs = Math.max(worstLiveMs, waited);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, cmd.pollMs - waited)));
    }
  })();
  const started = performance.now();
  const res = await fetch(cmd.url, {
    method: cmd.method,
    headers: { authorization: `Bearer ${cmd.key}`, "content-type": "application/json" },
    ...(cmd.body !== undefined ? { body: cmd.body } : {}),
  });
  await res.text();
  const ms = performance.now() - started;
  inFlight = false;
  await poller;
  return { label: cmd.label, status: res.status, ms, liveAnswers, worstLiveMs };
}

parentPort!.on("message", (cmd: StallCommand) => {
  void (async () => {
    if (cmd.kind === "upstream") parentPort!.postMessage(await startUpstream());
    else if (cmd.kind === "request") parentPort!.postMessage(await measure(cmd));
    else {
      upstream?.closeAllConnections();
      upstream?.close();
      parentPort!.close();
    }
  })();
});
