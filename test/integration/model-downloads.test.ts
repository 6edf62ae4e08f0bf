/**
 * Downloads through /api/models/downloads against a real local HTTP server standing in for
 * Hugging Face (never the internet): progress over SSE, resume after a cut connection, pause,
 * cancel, size and checksum mismatches, unreachable hosts, and that nothing half-written is ever
 * visible as a model or left behind.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { HfStandIn } from "../helpers/hf-standin.js";
import { testModelPath } from "../helpers/models.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

interface Snapshot {
  id: string;
  state: string;
  modelId: string;
  bytes: number;
  total: number | null;
  speed: number;
  eta: number | null;
  error: string | null;
  files: { name: string; size: number | null; bytes: number; sha256: string | null }[];
}

async function api<T>(
  t: TestServer,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${t.url}/api${route}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

/** Reads an SSE stream of snapshots until `until` says stop or the stream ends. */
async function readEvents(url: string, until: (s: Snapshot) => boolean, signal?: AbortSignal): Promise<Snapshot[]> {
  const res = await fetch(url, signal ? { signal } : {});
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const decoder = new TextDecoder();
  const events: Snapshot[] = [];
  let buffer = "";
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let i: number;
    while ((i = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      const data = frame
        .split("\n")
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6))
        .join("\n");
      if (!data || data === "[DONE]") continue;
      const snap = JSON.parse(data) as Snapshot;
      events.push(snap);
      if (until(snap)) {
        await res.body?.cancel().catch(() => undefined);
        return events;
      }
    }
  }
  return events;
}

const terminal = (s: Snapshot) => ["completed", "failed", "cancelled"].includes(s.state);

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function modelsDirOf(t: TestServer): string {
  return path.join(t.dataDir, "models");
}

/** Everything under the models folder, staging included, as relative paths. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe("model downloads from a Hugging Face stand-in", () => {
  const hf = new HfStandIn();
  let t: TestServer;
  let model: Buffer;

  before(async () => {
    model = fs.readFileSync(await testModelPath());
    hf.add({ repo: "tiny/stories", path: "stories-Q8_0.gguf", data: model })
      .add({ repo: "tiny/stories", path: "stories-F16.gguf", data: Buffer.from("not this one") })
      .add({ repo: "tiny/stories", path: "mmproj-stories-F16.gguf", data: Buffer.from("nor this") })
      .add({ repo: "tiny/cut", path: "cut.gguf", data: model })
      .add({ repo: "tiny/hold", path: "hold.gguf", data: model })
      .add({ repo: "tiny/cancel", path: "cancel.gguf", data: model })
      .add({ repo: "tiny/badsum", path: "badsum.gguf", data: model, claimSha256: "0".repeat(64) })
      .add({ repo: "tiny/badsize", path: "badsize.gguf", data: model, claimSize: model.length + 10 })
      .add({ repo: "tiny/html", path: "html.gguf", data: Buffer.from("<html>Sign in to continue</html>") })
      .add({ repo: "tiny/viaurl", path: "sub/viaurl.gguf", data: model })
      .add({ repo: "plain", path: "plain.gguf", data: model });
    await hf.start();
    t = await startTestServer({ hfEndpoint: hf.url, modelIdleTimeout: 0 }, { withModel: false });
  });
  after(async () => {
    await t?.close();
    await hf.close();
  });

  test("an hf: file downloads with live progress, is verified, and then answers /v1 by its name", async () => {
    hf.behave("tiny/stories/stories-Q8_0.gguf", { holdAfter: 400_000 });
    const start = await api<Snapshot>(t, "POST", "/models/downloads", { source: "hf:tiny/stories/stories-Q8_0.gguf" });
    assert.equal(start.status, 201, JSON.stringify(start.body));
    assert.equal(start.body.modelId, "stories-Q8_0");
    assert.equal(start.body.total, model.length, "the size from the listing");
    assert.equal(start.body.files[0]?.sha256, HfStandIn.sha256(model), "the sha256 from the listing");

    const events = readEvents(`${t.url}/api/models/downloads/${start.body.id}/events`, terminal);
    // While held mid-file, the partial file is not a model.
    await waitFor("bytes to arrive", async () =>
      (await api<Snapshot>(t, "GET", `/models/downloads/${start.body.id}`)).body.bytes >= 400_000 ? true : undefined,
    );
    const listed = await api<{ models: { id: string }[] }>(t, "GET", "/models");
    assert.ok(!listed.body.models.some((m) => m.id === "stories-Q8_0"), "not visible until complete");
    assert.deepEqual(
      filesUnder(modelsDirOf(t)).filter((f) => !f.startsWith(".downloads")),
      [],
    );
    hf.release();

    const seen = await events;
    const last = seen.at(-1)!;
    assert.equal(last.state, "completed", last.error ?? "");
    assert.equal(last.bytes, model.length);
    const progress = seen.filter((s) => s.state === "downloading");
    assert.ok(progress.length >= 1, "at least one progress event");
    for (const s of progress) {
      assert.equal(s.total, model.length);
      assert.ok(s.bytes >= 0 && s.bytes <= model.length);
      assert.equal(typeof s.speed, "number");
      assert.ok(s.eta === null || s.eta >= 0);
    }
    assert.ok(
      progress.some((s) => s.bytes >= 400_000 && s.bytes < model.length),
      "a progress event mid-file",
    );

    assert.deepEqual(filesUnder(modelsDirOf(t)), ["stories-Q8_0.gguf"], "published, staging removed");
    assert.deepEqual(fs.readFileSync(path.join(modelsDirOf(t), "stories-Q8_0.gguf")), model);
    const detail = await api<{ status: string; facts: { architecture: string } }>(t, "GET", "/models/stories-Q8_0");
    assert.equal(detail.body.status, "ok");
    assert.equal(detail.body.facts.architecture, "llama");

    const reply = await t.client.completions.create({
      model: "stories-Q8_0",
      prompt: "Once upon a time",
      max_tokens: 5,
    });
    assert.ok(reply.choices[0]!.text.length > 0);
    hf.behaviours.delete("tiny/stories/stories-Q8_0.gguf");
  });

  test("owner/repo with a quantization picks that file; without one, several files need a choice", async () => {
    const ambiguous = await api<{ error: { code: string; message: string } }>(t, "POST", "/models/downloads", {
      source: "tiny/stories",
    });
    assert.equal(ambiguous.status, 400);
    assert.equal(ambiguous.body.error.code, "quantization_required");
    assert.match(ambiguous.body.error.message, /Q8_0/);
    assert.match(ambiguous.body.error.message, /F16/);

    const missing = await api<{ error: { message: string } }>(t, "POST", "/models/downloads", {
      source: "tiny/stories",
      quantization: "Q2_K",
    });
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /no Q2_K/);

    // Already downloaded by the test above: a second copy is refused, nothing is started.
    const again = await api<{ error: { code: string } }>(t, "POST", "/models/downloads", {
      source: "tiny/stories",
      quantization: "q8_0",
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "already_exists");
  });

  test("a huggingface.co URL is fetched from the configured endpoint", async () => {
    const start = await api<Snapshot>(t, "POST", "/models/downloads", {
      source: "https://huggingface.co/tiny/viaurl/blob/main/sub/viaurl.gguf",
    });
    assert.equal(start.status, 201, JSON.stringify(start.body));
    const seen = await readEvents(`${t.url}/api/models/downloads/${start.body.id}/events`, terminal);
    assert.equal(seen.at(-1)!.state, "completed", seen.at(-1)!.error ?? "");
    assert.ok(fs.existsSync(path.join(modelsDirOf(t), "viaurl.gguf")));
    assert.ok(hf.requests.some((r) => r.url === "/tiny/viaurl/resolve/main/sub/viaurl.gguf"));
  });

  test("a connection cut mid-file is resumed with a Range request and the file verifies", async () => {
    hf.behave("tiny/cut/cut.gguf", { cutAfter: { bytes: 300_000, times: 2 } });
    const before = hf.requests.length;
    const start = await api<Snapshot>(t, "POST", "/models/downloads", { source: "hf:tiny/cut/cut.gguf" });
    assert.equal(start.status, 201, JSON.stringify(start.body));
    const seen = await readEvents(`${t.url}/api/models/downloads/${start.body.id}/events`, terminal);
    assert.equal(seen.at(-1)!.state, "completed", seen.at(-1)!.error ?? "");
    const cdnRequests = hf.requests.slice(before).filter((r) => r.url.startsWith("/cdn/"));
    assert.equal(cdnRequests.length, 3, "first try, two resumes");
    assert.equal(cdnRequests[0]!.range, null);
    const offsets = cdnRequests.slice(1).map((r) => Number(/^bytes=(\d+)-$/.exec(r.range ?? "")?.[1]));
    assert.ok(offsets[0]! > 0 && offsets[1]! > offsets[0]!, `resumed from where it stopped: ${offsets.join(", ")}`);
    assert.ok(
      cdnRequests.slice(1).every((r) => r.ifRange !== null),
      "If-Range guards against a changed file",
    );
    assert.deepEqual(fs.readFileSync(path.join(modelsDirOf(t), "cut.gguf")), model);
  });

  test("pause keeps the bytes out of sight, resume continues from them", async () => {
    hf.behave("tiny/hold/hold.gguf", { holdAfter: 500_000 });
    const start = await api<Snapshot>(t, "POST", "/models/downloads", { source: "hf:tiny/hold/hold.gguf" });
    assert.equal(start.status, 201);
    await waitFor("bytes to arrive", async () =>
      (await api<Snapshot>(t, "GET", `/models/downloads/${start.body.id}`)).body.bytes >= 500_000 ? true : undefined,
    );
    const paused = await api<Snapshot>(t, "POST", `/models/downloads/${start.body.id}/pause`);
    assert.equal(paused.body.state, "paused");
    assert.equal(paused.body.bytes, 500_000);
    const staged = filesUnder(modelsDirOf(t)).filter((f) => f.startsWith(".downloads"));
    assert.ok(
      staged.some((f) => f.endsWith("hold.gguf.part")),
      staged.join(", "),
    );
    assert.ok(!fs.existsSync(path.join(modelsDirOf(t), "hold.gguf")));
    const listed = await api<{ models: { id: string }[] }>(t, "GET", "/models");
    assert.ok(!listed.body.models.some((m) => m.id === "hold"));

    hf.behaviours.delete("tiny/hold/hold.gguf");
    hf.release();
    const before = hf.requests.length;
    const events = readEvents(`${t.url}/api/models/downloads/${start.body.id}/events`, terminal);
    const resumed = await api<Snapshot>(t, "POST", `/models/downloads/${start.body.id}/resume`);
    assert.ok(["queued", "downloading", "verifying", "completed"].includes(resumed.body.state), resumed.body.state);
    const seen = await events;
    assert.equal(seen.at(-1)!.state, "completed", seen.at(-1)!.error ?? "");
    const cdn = hf.requests.slice(before).filter((r) => r.url.startsWith("/cdn/"));
    assert.equal(cdn[0]?.range, "bytes=500000-");
    assert.deepEqual(fs.readFileSync(path.join(modelsDirOf(t), "hold.gguf")), model);
  });

  test("cancel stops the transfer and removes every byte", async () => {
    hf.behave("tiny/cancel/cancel.gguf", { holdAfter: 200_000 });
    const start = await api<Snapshot>(t, "POST", "/models/downloads", { source: "hf:tiny/cancel/cancel.gguf" });
    assert.equal(start.status, 201);
    await waitFor("bytes to arrive", async () =>
      (await api<Snapshot>(t, "GET", `/models/downloads/${start.body.id}`)).body.bytes >= 200_000 ? true : undefined,
    );
    const events = readEvents(`${t.url}/api/models/downloads/${start.body.id}/events`, terminal);
    const cancelled = await api<Snapshot>(t, "DELETE", `/models/downloads/${start.body.id}`);
    assert.equal(cancelled.body.state, "cancelled");
    assert.equal((await events).at(-1)!.state, "cancelled");
    assert.ok(!filesUnder(modelsDirOf(t)).some((f) => f.includes("cancel")), filesUnder(modelsDirOf(t)).join(", "));
    // A finished download is removed from the list by a second DELETE.
    await api(t, "DELETE", `/models/downloads/${start.body.id}`);
    assert.equal((await api(t, "GET", `/models/downloads/${start.body.id}`)).status, 404);
    hf.release();
  });

  test("a checksum mismatch is rejected after the transfer and leaves nothing behind", async () => {
    const start = await api<Snapshot>(t, "POST", "/models/downloads", { source: "hf:tiny/badsum/badsum.gguf" });
    assert.equal(start.status, 201);
    const seen = await readEvents(`${t.url}/api/models/downloads/${start.body.id}/events`, terminal);
    const last = seen.at(-1)!;
    assert.equal(last.state, "failed");
    assert.match(last.error ?? "", /checksum mismatch/);
    assert.ok(!filesUnder(modelsDirOf(t)).some((f) => f.includes("badsum")));
  });

  test("a size mismatch is rejected before any byte is kept", async () => {
    const res = await api<{ error: { message: string } }>(t, "POST", "/models/downloads", {
      source: "hf:tiny/badsize/badsize.gguf",
    });
    assert.equal(res.status, 502);
    assert.match(res.body.error.message, /size mismatch/);
    assert.ok(!filesUnder(modelsDirOf(t)).some((f) => f.includes("badsize")));
    const list = await api<{ downloads: Snapshot[] }>(t, "GET", "/models/downloads");
    assert.ok(
      !list.body.downloads.some((d) => d.files.some((f) => f.name === "badsize.gguf")),
      "a download that never started is not listed",
    );
  });

  test("a file that is not a GGUF (a login page) is rejected and removed", async () => {
    const start = await api<Snapshot>(t, "POST", "/models/downloads", { source: "hf:tiny/html/html.gguf" });
    assert.equal(start.status, 201);
    const seen = await readEvents(`${t.url}/api/models/downloads/${start.body.id}/events`, terminal);
    assert.equal(seen.at(-1)!.state, "failed");
    assert.match(seen.at(-1)!.error ?? "", /not a usable model/);
    assert.ok(!filesUnder(modelsDirOf(t)).some((f) => f.includes("html")));
  });

  test("a gated repository: without a token a clear 403 naming HF_TOKEN; with one, the token goes to Hugging Face and never to its CDN", async () => {
    const token = "hf_test_token_5b1e0c";
    hf.add({ repo: "gated/stories", path: "gated-Q8_0.gguf", data: model, gatedToken: token });
    const refused = await api<{ error: { message: string } }>(t, "POST", "/models/downloads", {
      source: "hf:gated/stories/gated-Q8_0.gguf",
    });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.match(refused.body.error.message, /gated.*HF_TOKEN/s);

    const withToken = await startTestServer(
      { hfEndpoint: hf.url, hfToken: token, modelIdleTimeout: 0 },
      { withModel: false },
    );
    try {
      const first = hf.requests.length;
      const start = await api<Snapshot>(withToken, "POST", "/models/downloads", {
        source: "hf:gated/stories/gated-Q8_0.gguf",
      });
      assert.equal(start.status, 201, JSON.stringify(start.body));
      const seen = await readEvents(`${withToken.url}/api/models/downloads/${start.body.id}/events`, terminal);
      assert.equal(seen.at(-1)!.state, "completed", seen.at(-1)!.error ?? "");
      const mainPort = Number(new URL(hf.url).port);
      const sent = hf.requests.slice(first);
      assert.ok(
        sent.some((r) => r.port !== mainPort),
        "the bytes came from the CDN's origin",
      );
      for (const r of sent) {
        if (r.port === mainPort)
          assert.equal(r.authorization, `Bearer ${token}`, `${r.url} on Hugging Face carries the token`);
        else assert.equal(r.authorization, null, `${r.url} on the CDN carries no token`);
      }
      // The token is a secret: /api/settings never shows it.
      assert.ok(!JSON.stringify((await api(withToken, "GET", "/settings")).body).includes(token));
    } finally {
      await withToken.close();
    }
  });

  test("plain URLs download with a given sha256; a wrong one is rejected; 404 says not found", async () => {
    const good = await api<Snapshot>(t, "POST", "/models/downloads", {
      source: `${hf.url}/plain/plain.gguf`,
      sha256: HfStandIn.sha256(model),
    });
    assert.equal(good.status, 201, JSON.stringify(good.body));
    const seen = await readEvents(`${t.url}/api/models/downloads/${good.body.id}/events`, terminal);
    assert.equal(seen.at(-1)!.state, "completed", seen.at(-1)!.error ?? "");
    assert.ok(fs.existsSync(path.join(modelsDirOf(t), "plain.gguf")));

    const wrong = await api<Snapshot>(t, "POST", "/models/downloads", {
      source: `${hf.url}/plain/plain.gguf`,
      fileName: "plain-copy.gguf",
      sha256: "f".repeat(64),
    });
    assert.equal(wrong.status, 201);
    const wrongSeen = await readEvents(`${t.url}/api/models/downloads/${wrong.body.id}/events`, terminal);
    assert.match(wrongSeen.at(-1)!.error ?? "", /checksum mismatch/);
    assert.ok(!filesUnder(modelsDirOf(t)).some((f) => f.includes("plain-copy")));

    const missing = await api<{ error: { message: string } }>(t, "POST", "/models/downloads", {
      source: `${hf.url}/plain/nothing.gguf`,
    });
    assert.equal(missing.status, 404);
    assert.match(missing.body.error.message, /not found/);
  });

  test("names that would escape the models folder are refused", async () => {
    for (const body of [
      { source: `${hf.url}/plain/plain.gguf`, fileName: "../escape.gguf" },
      { source: `${hf.url}/plain/plain.gguf`, fileName: "/tmp/escape.gguf" },
      { source: `${hf.url}/plain/%2e%2e%2fescape.gguf` },
      { source: "hf:tiny/../etc/passwd.gguf" },
      { source: "hf:../../x/y.gguf" },
    ]) {
      const res = await api<{ error: { type: string } }>(t, "POST", "/models/downloads", body);
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    assert.ok(!fs.existsSync(path.join(t.dataDir, "escape.gguf")));
  });
});

describe("downloads when the host cannot be reached", () => {
  let t: TestServer;
  let port: number;
  before(async () => {
    port = await freePort();
    t = await startTestServer({ hfEndpoint: `http://127.0.0.1:${port}` }, { withModel: false });
  });
  after(() => t?.close());

  const sources = ["hf:tiny/stories/stories-Q8_0.gguf", "tiny/stories", "PLAIN"];
  for (const source of sources) {
    test(`${source === "PLAIN" ? "a plain URL" : source}: a plain error, nothing half-written`, async () => {
      const body = { source: source === "PLAIN" ? `http://127.0.0.1:${port}/plain/model.gguf` : source };
      const res = await api<{ error: { message: string; code: string } }>(t, "POST", "/models/downloads", body);
      assert.equal(res.status, 502, JSON.stringify(res.body));
      assert.equal(res.body.error.code, "host_unreachable");
      assert.match(res.body.error.message, new RegExp(`127\\.0\\.0\\.1:${port} gave no HTTP answer`));
      assert.doesNotMatch(res.body.error.message, /refused/);
      assert.deepEqual(filesUnder(path.join(t.dataDir, "models")), []);
      assert.deepEqual((await api<{ downloads: unknown[] }>(t, "GET", "/models/downloads")).body.downloads, []);
    });
  }
});
