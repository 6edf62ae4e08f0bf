/**
 * The download manager on its own, against the local Hugging Face stand-in, for what the HTTP
 * tests cannot reach quickly: a stalled transfer, a server that keeps failing, one without Range
 * support, and downloads surviving a restart of the manager.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { DownloadManager, type DownloadManagerOptions } from "../../server/models/downloads.js";
import { ModelLibrary } from "../../server/models/library.js";
import type { DownloadSnapshot } from "../../server/wire/models.js";
import { HfStandIn } from "../helpers/hf-standin.js";
import { testModelPath } from "../helpers/models.js";

const logger = pino({ level: "silent" });

function settled(manager: DownloadManager, id: string, states: string[]): Promise<DownloadSnapshot> {
  return new Promise((resolve) => {
    const check = (s: DownloadSnapshot) => {
      if (s.id === id && states.includes(s.state)) {
        manager.off("update", check);
        resolve(s);
      }
    };
    manager.on("update", check);
    void manager.get(id).then(check);
  });
}

describe("download manager", () => {
  const hf = new HfStandIn();
  let dir: string;
  let model: Buffer;
  const managers: DownloadManager[] = [];

  const make = (extra: Partial<DownloadManagerOptions> = {}) => {
    const modelsDir = path.join(dir, "models");
    const library = new ModelLibrary({ modelsDir, logger });
    const m = new DownloadManager({ modelsDir, hfEndpoint: hf.url, library, logger, retryDelayMs: 10, ...extra });
    managers.push(m);
    return { m, library, modelsDir };
  };

  before(async () => {
    model = fs.readFileSync(await testModelPath());
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-dl-"));
    hf.add({ repo: "t/stall", path: "stall.gguf", data: model })
      .add({ repo: "t/flaky", path: "flaky.gguf", data: model })
      .add({ repo: "t/norange", path: "norange.gguf", data: model })
      .add({ repo: "t/restart", path: "restart.gguf", data: model })
      .add({ repo: "t/down", path: "down.gguf", data: model });
    await hf.start();
  });
  after(async () => {
    for (const m of managers) await m.close();
    await hf.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("a stalled transfer is retried, then pauses itself keeping its bytes; resume finishes it", async () => {
    hf.behave("t/stall/stall.gguf", { holdAfter: 100_000 });
    const { m, modelsDir } = make({ stallTimeoutMs: 200, retries: 2 });
    const before = hf.requests.length;
    const started = await m.start({ source: "hf:t/stall/stall.gguf" });
    const paused = await settled(m, started.id, ["paused", "failed", "completed"]);
    assert.equal(paused.state, "paused");
    assert.match(paused.error ?? "", /stalled/);
    assert.equal(paused.bytes, 100_000, "the bytes before the stall are kept");
    const cdn = hf.requests.slice(before).filter((r) => r.url.startsWith("/cdn/"));
    assert.equal(cdn.length, 3, "the first try and two retries");
    assert.deepEqual(
      cdn.slice(1).map((r) => r.range),
      ["bytes=100000-", "bytes=100000-"],
    );
    assert.ok(!fs.existsSync(path.join(modelsDir, "stall.gguf")));

    hf.behaviours.delete("t/stall/stall.gguf");
    hf.release();
    await m.resume(started.id);
    const done = await settled(m, started.id, ["completed", "failed", "paused"]);
    assert.equal(done.state, "completed", done.error ?? "");
    assert.deepEqual(fs.readFileSync(path.join(modelsDir, "stall.gguf")), model);
  });

  test("HTTP 5xx answers are retried", async () => {
    const { m, modelsDir } = make();
    hf.behave("t/flaky/flaky.gguf", { statusTimes: { status: 503, times: 2 } });
    const before = hf.requests.length;
    const started = await m.start({ source: "hf:t/flaky/flaky.gguf" });
    const done = await settled(m, started.id, ["completed", "failed", "paused"]);
    assert.equal(done.state, "completed", done.error ?? "");
    assert.equal(hf.requests.slice(before).filter((r) => r.url.startsWith("/t/flaky/resolve/")).length, 3);
    assert.ok(fs.existsSync(path.join(modelsDir, "flaky.gguf")));
  });

  test("a server without Range support restarts the file from zero and still verifies", async () => {
    const { m, modelsDir } = make();
    hf.behave("t/norange/norange.gguf", { noRange: true, cutAfter: { bytes: 250_000, times: 1 } });
    const started = await m.start({ source: "hf:t/norange/norange.gguf" });
    const done = await settled(m, started.id, ["completed", "failed", "paused"]);
    assert.equal(done.state, "completed", done.error ?? "");
    assert.deepEqual(fs.readFileSync(path.join(modelsDir, "norange.gguf")), model);
  });

  test("a download running when the manager stops is paused on the next start and resumes", async () => {
    hf.behave("t/restart/restart.gguf", { holdAfter: 300_000 });
    const first = make();
    const started = await first.m.start({ source: "hf:t/restart/restart.gguf" });
    while ((await first.m.get(started.id)).bytes < 300_000) await new Promise((r) => setTimeout(r, 20));
    await first.m.close();

    hf.behaviours.delete("t/restart/restart.gguf");
    hf.release();
    const second = make();
    const listed = (await second.m.list()).find((d) => d.id === started.id);
    assert.ok(listed, "restored from the staging folder");
    assert.equal(listed.state, "paused");
    assert.equal(listed.bytes, 300_000);
    assert.equal(listed.total, model.length);
    const before = hf.requests.length;
    await second.m.resume(started.id);
    const done = await settled(second.m, started.id, ["completed", "failed", "paused"]);
    assert.equal(done.state, "completed", done.error ?? "");
    assert.equal(hf.requests.slice(before).find((r) => r.url.startsWith("/cdn/"))?.range, "bytes=300000-");
    assert.deepEqual(fs.readFileSync(path.join(second.modelsDir, "restart.gguf")), model);
    const staging = path.join(second.modelsDir, ".downloads");
    assert.deepEqual(fs.existsSync(staging) ? fs.readdirSync(staging) : [], []);
  });

  test("a host that accepts the connection but never answers is reported plainly, and nothing is left", async () => {
    hf.behave("t/down/down.gguf", { silent: true });
    const { m, modelsDir } = make({ connectTimeoutMs: 300 });
    await assert.rejects(m.start({ source: "hf:t/down/down.gguf" }), (err: Error & { code?: string }) => {
      assert.match(err.message, /did not answer within 0.3 s: you may be offline, or the server is down/);
      assert.equal(err.code, "host_unreachable");
      return true;
    });
    assert.deepEqual(await m.list(), []);
    const staging = path.join(modelsDir, ".downloads");
    assert.deepEqual(fs.existsSync(staging) ? fs.readdirSync(staging) : [], []);
    assert.ok(!fs.existsSync(path.join(modelsDir, "down.gguf")));
  });
});
