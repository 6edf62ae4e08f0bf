/**
 * How a remote provider fails: a refused key, a provider that is down or does not resolve (one
 * answer for both), one that is too slow, one that is full (429), a redirect, and retries only where they are safe.
 * The upstream is a real Hearth; small raw HTTP servers play the misbehaving ones (a redirect, a
 * gateway answering 503, a connection cut mid-reply) that a Hearth cannot be made to be.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  closedPort,
  rawServer,
  startHearth,
  upstreamMetric,
  waitFor,
  type Hearth,
  type RawServer,
} from "../helpers/remote.js";

const UPSTREAM_KEY = "upstream-key-a81f44c0d2";
const user = (content: string) => [{ role: "user" as const, content }];
type ApiError = { status?: number; message?: string; code?: string | null; headers?: Headers };

const sseLine = (v: unknown) => `data: ${typeof v === "string" ? v : JSON.stringify(v)}\n\n`;
const textChunk = (text: string) => ({ choices: [{ index: 0, delta: { content: text }, finish_reason: null }] });

describe("remote provider failures", () => {
  let upstream: Hearth;
  let hearth: Hearth;
  const raws: RawServer[] = [];

  /** Starts a long reply straight on the upstream and waits for its first bytes: its one sequence is then busy. */
  async function occupyUpstream(): Promise<AbortController> {
    const controller = new AbortController();
    const res = await fetch(`${upstream.url}/v1/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${UPSTREAM_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "stories260K", prompt: "Once upon a time", max_tokens: 1500, stream: true }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    return controller;
  }

  async function addProvider(body: Record<string, unknown>) {
    const res = await hearth.api("/api/providers", {
      body: { name: String(body.id), kind: "openai-compatible", ...body },
    });
    assert.equal(res.status, 201, await res.clone().text());
    return (await res.json()) as {
      status: { state: string; code: string | null; message: string | null };
      availableModels: string[];
    };
  }

  before(async () => {
    // One sequence and a queue of one: easy to make it busy (timeouts) or full (429).
    upstream = await startHearth(UPSTREAM_KEY, { parallel: 1, maxQueue: 1, ctxSize: 2048 });
    hearth = await startHearth("hearth-key-9b2e6a17", { parallel: 1 });
    await addProvider({ id: "up", kind: "vllm", baseUrl: `${upstream.url}/v1`, apiKey: UPSTREAM_KEY });
  });
  after(async () => {
    await hearth?.close();
    await upstream?.close();
    for (const r of raws) await r.close();
  });

  test("a wrong API key: 502 saying the provider refused its key, and the key is not in the message", async () => {
    const view = await addProvider({ id: "badkey", baseUrl: `${upstream.url}/v1`, apiKey: "sk-wrong-key-5e0f" });
    assert.equal(view.status.state, "error");
    assert.equal(view.status.code, "provider_auth_failed");
    await assert.rejects(
      hearth.client.chat.completions.create({ model: "badkey/stories260K", messages: user("hi"), max_tokens: 2 }),
      (err: ApiError) => {
        assert.equal(err.status, 502);
        assert.match(err.message ?? "", /provider 'badkey' refused its API key/);
        assert.doesNotMatch(err.message ?? "", /sk-wrong/);
        return true;
      },
    );
    const test = (await (await hearth.api("/api/providers/badkey/test", { body: {} })).json()) as {
      ok: boolean;
      error: { status: number; code: string };
    };
    assert.equal(test.ok, false);
    assert.equal(test.error.code, "provider_auth_failed");
  });

  test("a provider that is down: 502 naming it; local models keep working; /v1/models leaves it out; /api shows why", async () => {
    const port = await closedPort();
    const view = await addProvider({ id: "down", baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: "sk-down-0000" });
    assert.equal(view.status.state, "error");
    assert.equal(view.status.code, "provider_unreachable");
    await assert.rejects(
      hearth.client.chat.completions.create({ model: "down/some-model", messages: user("hi"), max_tokens: 2 }),
      (err: ApiError) => {
        assert.equal(err.status, 502);
        assert.match(
          err.message ?? "",
          new RegExp(`provider 'down' \\(127\\.0\\.0\\.1:${port}\\) gave no HTTP answer`),
        );
        return true;
      },
    );
    const local = await hearth.client.chat.completions.create({
      model: "stories260K",
      messages: user("hi"),
      max_tokens: 3,
    });
    assert.equal(local.usage?.completion_tokens, 3);
    const ids = (await hearth.client.models.list()).data.map((m) => m.id);
    assert.ok(ids.includes("stories260K") && ids.includes("up/stories260K"));
    assert.ok(!ids.some((id) => id.startsWith("down/") || id.startsWith("badkey/")));
    const listed = (await (await hearth.api("/api/providers")).json()) as {
      data: { id: string; status: { state: string; message: string } }[];
    };
    const down = listed.data.find((p) => p.id === "down");
    assert.equal(down?.status.state, "error");
    assert.match(down?.status.message ?? "", /gave no HTTP answer/);
  });

  test("a host name that does not resolve: 502, the same answer as any other host that gives none", async () => {
    await addProvider({
      id: "nxdomain",
      baseUrl: "http://hearth-remote-test.invalid/v1",
      discover: false,
      models: ["m"],
    });
    await assert.rejects(
      hearth.client.chat.completions.create({ model: "nxdomain/m", messages: user("hi"), max_tokens: 2 }),
      (err: ApiError) => {
        assert.equal(err.status, 502);
        assert.match(err.message ?? "", /provider 'nxdomain' \(hearth-remote-test\.invalid\) gave no HTTP answer/);
        return true;
      },
    );
  });

  test("an upstream slower than the provider's timeout: 504 naming the provider", async () => {
    await addProvider({
      id: "slow",
      kind: "vllm",
      baseUrl: `${upstream.url}/v1`,
      apiKey: UPSTREAM_KEY,
      timeoutSeconds: 0.5,
    });
    const blocker = await occupyUpstream();
    try {
      // The upstream queues this request behind the busy sequence and sends nothing meanwhile.
      await assert.rejects(
        hearth.client.chat.completions.create({ model: "slow/stories260K", messages: user("hi"), max_tokens: 2 }),
        (err: ApiError) => {
          assert.equal(err.status, 504);
          assert.match(err.message ?? "", /provider 'slow' .*gave no HTTP answer within 0\.5 s/);
          return true;
        },
      );
    } finally {
      blocker.abort();
    }
    assert.ok(
      await waitFor(
        async () =>
          (await upstreamMetric(upstream, "hearth_busy_sequences")) === 0 &&
          (await upstreamMetric(upstream, "hearth_queue_depth")) === 0,
      ),
    );
  });

  test("an upstream 429 is passed on as 429 with its Retry-After", async () => {
    const blocker = await occupyUpstream();
    const queued = new AbortController();
    const waiting = fetch(`${upstream.url}/v1/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${UPSTREAM_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "stories260K", prompt: "x", max_tokens: 2 }),
      signal: queued.signal,
    }).catch(() => undefined);
    try {
      assert.ok(
        await waitFor(async () => (await upstreamMetric(upstream, "hearth_queue_depth")) === 1),
        "the upstream queue is full",
      );
      const res = await hearth.api("/v1/chat/completions", {
        body: { model: "up/stories260K", messages: user("hi"), max_tokens: 2 },
      });
      assert.equal(res.status, 429);
      assert.match(res.headers.get("retry-after") ?? "", /^\d+$/);
      const body = (await res.json()) as { error: { message: string; type: string; code: string } };
      assert.match(body.error.message, /provider 'up' is rate limiting/);
      assert.equal(body.error.code, "rate_limit_exceeded");
    } finally {
      queued.abort();
      blocker.abort();
      await waiting;
    }
    assert.ok(await waitFor(async () => (await upstreamMetric(upstream, "hearth_busy_sequences")) === 0));
  });

  test("credentials go only to the configured host: a redirect is refused, not followed", async () => {
    const elsewhere = await rawServer((_req, res) => res.end("{}"));
    const redirecting = await rawServer((_req, res) => {
      res.writeHead(307, { location: `${elsewhere.url}/v1/chat/completions` });
      res.end();
    });
    raws.push(elsewhere, redirecting);
    await addProvider({
      id: "redir",
      baseUrl: `${redirecting.url}/v1`,
      apiKey: "sk-redirect-7c1d",
      headers: { "X-Org": "org-42" },
      discover: false,
      models: ["m"],
    });
    await assert.rejects(
      hearth.client.chat.completions.create({ model: "redir/m", messages: user("hi"), max_tokens: 2 }),
      (err: ApiError) => {
        assert.equal(err.status, 502);
        assert.match(err.message ?? "", /provider 'redir' answered with a redirect/);
        return true;
      },
    );
    assert.equal(elsewhere.requests.length, 0, "nothing reached the other host");
    const sent = redirecting.requests[0]!;
    assert.equal(sent.headers.authorization, "Bearer sk-redirect-7c1d", "the configured host gets the key");
    assert.equal(sent.headers["x-org"], "org-42", "and the extra headers");
    assert.equal(sent.url, "/v1/chat/completions");
  });

  describe("retries", () => {
    let plan: string[] = [];
    let flaky: RawServer;

    before(async () => {
      flaky = await rawServer((_req, res, n) => {
        const step = plan[n - 1] ?? "ok";
        if (step === "503" || step === "500") {
          res.writeHead(Number(step), { "content-type": "application/json" });
          res.end(JSON.stringify({ error: { message: `gateway says ${step}` } }));
          return;
        }
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(sseLine(textChunk("one ")));
        res.write(sseLine(textChunk("two ")));
        if (step === "cut") {
          setTimeout(() => res.destroy(), 20);
          return;
        }
        res.write(sseLine({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }));
        res.write(sseLine({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }));
        res.end(sseLine("[DONE]"));
      });
      raws.push(flaky);
      await addProvider({ id: "flaky", baseUrl: `${flaky.url}/v1`, discover: false, models: ["m"] });
    });

    const run = async (steps: string[], stream = false) => {
      plan = steps;
      flaky.requests.length = 0;
      if (!stream) return hearth.client.chat.completions.create({ model: "flaky/m", messages: user("hi") });
      let text = "";
      for await (const chunk of await hearth.client.chat.completions.create({
        model: "flaky/m",
        messages: user("hi"),
        stream: true,
      }))
        text += chunk.choices[0]?.delta.content ?? "";
      return text;
    };

    test("503s before any body are retried with backoff, and the reply then goes through", async () => {
      const res = (await run(["503", "503", "ok"])) as {
        choices: { message: { content: string | null } }[];
        usage?: { completion_tokens: number };
      };
      assert.equal(flaky.requests.length, 3);
      assert.equal(res.choices[0]?.message.content, "one two ");
      assert.equal(res.usage?.completion_tokens, 2);
    });

    test("retries stop after the limit: the upstream's 503 is reported", async () => {
      await assert.rejects(
        run(["503", "503", "503", "503"]),
        (err: ApiError) => err.status === 503 && /provider 'flaky' is unavailable/.test(err.message ?? ""),
      );
      assert.equal(flaky.requests.length, 3);
    });

    test("a 500 is not retried (the upstream may have done the work)", async () => {
      await assert.rejects(
        run(["500"]),
        (err: ApiError) => err.status === 502 && /gateway says 500/.test(err.message ?? ""),
      );
      assert.equal(flaky.requests.length, 1);
    });

    test("a stream cut after bytes reached the client is not retried: the client gets the text, then an error", async () => {
      let text = "";
      await assert.rejects(
        (async () => {
          plan = ["cut"];
          flaky.requests.length = 0;
          for await (const chunk of await hearth.client.chat.completions.create({
            model: "flaky/m",
            messages: user("hi"),
            stream: true,
          }))
            text += chunk.choices[0]?.delta.content ?? "";
        })(),
        (err: ApiError) => /provider 'flaky'/.test(err.message ?? ""),
      );
      assert.equal(text, "one two ");
      assert.equal(flaky.requests.length, 1);
    });
  });
});
