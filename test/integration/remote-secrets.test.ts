/**
 * /api/providers end to end, and where a provider's API key may and may not appear: it is sent
 * upstream and kept in the 0600 secrets file, and is never in a log line (the logger runs at
 * trace level and keeps every line), an /api or /v1 response, an error, the history database or
 * any other file in the data dir.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { captureLogger, closedPort, filesUnder, startHearth, waitFor, type Hearth } from "../helpers/remote.js";

const UPSTREAM_KEY = "sk-upstream-secret-4d1b7e9a";
const WRONG_KEY = "sk-wrong-secret-0c6f2a81";
const HEADER_SECRET = "hdr-secret-93e7b0";
const SECRETS = [UPSTREAM_KEY, WRONG_KEY, HEADER_SECRET];
const HEARTH_KEY = "hearth-key-51aa09c3";
const user = (content: string) => [{ role: "user" as const, content }];

type View = {
  id: string;
  name: string;
  kind: string;
  baseUrl: string;
  timeoutSeconds: number;
  discover: boolean;
  models: string[];
  hasApiKey: boolean;
  headers: string[];
  status: { state: string; message: string | null; code: string | null; checkedAt: string | null };
  availableModels: string[];
  discoveredModels: string[] | null;
};

describe("/api/providers and secrets", () => {
  let upstream: Hearth;
  let hearth: Hearth;
  let dataDir: string;
  const logs = captureLogger();
  /** Every body /api and /v1 answered in this file, to search for secrets at the end. */
  const seen: string[] = [];

  async function call(
    p: string,
    init: { method?: string; body?: unknown } = {},
  ): Promise<{ status: number; json: unknown; text: string }> {
    const res = await hearth.api(p, init);
    const text = await res.text();
    seen.push(text, JSON.stringify([...res.headers]));
    return { status: res.status, text, json: text ? JSON.parse(text) : null };
  }

  before(async () => {
    upstream = await startHearth(UPSTREAM_KEY, { parallel: 2, ctxSize: 1024 });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-remote-secrets-"));
    hearth = await startHearth(HEARTH_KEY, { parallel: 1, dataDir }, logs.logger);
  });
  after(async () => {
    await hearth?.close();
    await upstream?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const create = () => ({
    id: "up",
    name: "Lab GPU",
    kind: "vllm",
    baseUrl: `${upstream.url}/v1/`,
    apiKey: UPSTREAM_KEY,
    headers: { "X-Team-Token": HEADER_SECRET },
  });

  test("POST creates a provider: 201 with hasApiKey and header names, never their values", async () => {
    const res = await call("/api/providers", { body: create() });
    assert.equal(res.status, 201);
    const view = res.json as View;
    assert.deepEqual(
      { ...view, status: { ...view.status, checkedAt: null } },
      {
        id: "up",
        name: "Lab GPU",
        kind: "vllm",
        baseUrl: `${upstream.url}/v1`,
        timeoutSeconds: 120,
        discover: true,
        models: [],
        hasApiKey: true,
        headers: ["X-Team-Token"],
        status: { state: "ok", message: null, code: null, checkedAt: null },
        availableModels: ["up/stories260K"],
        discoveredModels: ["stories260K"],
      },
    );
    assert.ok(view.status.checkedAt && !Number.isNaN(Date.parse(view.status.checkedAt)));
  });

  test("validation: 400 naming the field, 409 for a taken id, 404 for an unknown one", async () => {
    const bad = await call("/api/providers", {
      body: { ...create(), id: "two", baseUrl: "https://user:pw@example.com/v1" },
    });
    assert.equal(bad.status, 400);
    assert.equal((bad.json as { error: { param: string } }).error.param, "baseUrl");
    const local = await call("/api/providers", { body: { ...create(), id: "local" } });
    assert.equal(local.status, 400);
    const taken = await call("/api/providers", { body: create() });
    assert.equal(taken.status, 409);
    assert.equal((taken.json as { error: { code: string } }).error.code, "provider_exists");
    assert.equal((await call("/api/providers/nope")).status, 404);
    assert.equal((await call("/api/providers/nope", { method: "DELETE" })).status, 404);
    const unknownField = await call("/api/providers/up", { method: "PATCH", body: { id: "renamed" } });
    assert.equal(unknownField.status, 400, "the id cannot be changed");
  });

  test("GET lists and shows providers; proxied chats work with the stored key", async () => {
    const list = (await call("/api/providers")).json as { object: string; data: View[] };
    assert.equal(list.object, "list");
    assert.deepEqual(
      list.data.map((p) => p.id),
      ["up"],
    );
    assert.equal(((await call("/api/providers/up")).json as View).hasApiKey, true);
    const reply = await hearth.client.chat.completions.create({
      model: "up/stories260K",
      messages: user("A story about a fox"),
      max_tokens: 6,
    });
    seen.push(JSON.stringify(reply));
    assert.equal(reply.usage?.completion_tokens, 6);
    let streamed = "";
    for await (const chunk of await hearth.client.chat.completions.create({
      model: "up/stories260K",
      messages: user("A story about a bear"),
      max_tokens: 6,
      stream: true,
    })) {
      seen.push(JSON.stringify(chunk));
      streamed += chunk.choices[0]?.delta.content ?? "";
    }
    assert.ok(streamed.length > 0);
  });

  test("test and refresh answer with the connection's result", async () => {
    const tested = (await call("/api/providers/up/test", { body: {} })).json as {
      ok: boolean;
      latencyMs: number;
      models: string[];
      error: null;
    };
    assert.equal(tested.ok, true);
    assert.deepEqual(tested.models, ["stories260K"]);
    assert.equal(tested.error, null);
    assert.ok(tested.latencyMs >= 0);
    const refreshed = (await call("/api/providers/up/refresh", { body: {} })).json as View;
    assert.deepEqual(refreshed.discoveredModels, ["stories260K"]);

    const unsavedOk = (await call("/api/providers/test", { body: { ...create(), id: "probe" } })).json as {
      ok: boolean;
    };
    assert.equal(unsavedOk.ok, true);
    const unsavedBad = (await call("/api/providers/test", { body: { ...create(), id: "probe", apiKey: WRONG_KEY } }))
      .json as { ok: boolean; error: { status: number; code: string; message: string } };
    assert.equal(unsavedBad.ok, false);
    assert.equal(unsavedBad.error.status, 502);
    assert.equal(unsavedBad.error.code, "provider_auth_failed");
    assert.equal(((await call("/api/providers")).json as { data: View[] }).data.length, 1, "testing saved nothing");
  });

  test("PATCH edits fields and replaces or removes the key; a wrong key fails with no trace of it", async () => {
    const renamed = (
      await call("/api/providers/up", { method: "PATCH", body: { name: "Renamed", models: ["stories260K"] } })
    ).json as View;
    assert.equal(renamed.name, "Renamed");
    assert.equal(renamed.hasApiKey, true, "absent apiKey keeps the key");
    assert.deepEqual(renamed.headers, ["X-Team-Token"]);

    const wrong = (await call("/api/providers/up", { method: "PATCH", body: { apiKey: WRONG_KEY } })).json as View;
    assert.equal(wrong.status.code, "provider_auth_failed");
    const failed = await call("/v1/chat/completions", {
      body: { model: "up/stories260K", messages: user("hi"), max_tokens: 2 },
    });
    assert.equal(failed.status, 502);
    assert.match(failed.text, /refused its API key/);
    const failedStream = await call("/v1/chat/completions", {
      body: { model: "up/stories260K", messages: user("hi"), max_tokens: 2, stream: true },
    });
    assert.equal(failedStream.status, 502);

    const none = (await call("/api/providers/up", { method: "PATCH", body: { apiKey: null } })).json as View;
    assert.equal(none.hasApiKey, false);
    const restored = (await call("/api/providers/up", { method: "PATCH", body: { apiKey: UPSTREAM_KEY } }))
      .json as View;
    assert.equal(restored.hasApiKey, true);
    assert.equal(restored.status.state, "ok");
    const ok = await call("/v1/chat/completions", {
      body: { model: "up/stories260K", messages: user("again"), max_tokens: 2 },
    });
    assert.equal(ok.status, 200);
  });

  test("a provider that is down shows its error in /api without any secret", async () => {
    const port = await closedPort();
    const down = await call("/api/providers", {
      body: { ...create(), id: "down", baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: WRONG_KEY },
    });
    assert.equal((down.json as View).status.state, "error");
    const res = await call("/v1/chat/completions", { body: { model: "down/x", messages: user("hi"), max_tokens: 2 } });
    assert.equal(res.status, 502);
    assert.equal((await call("/api/providers/down", { method: "DELETE" })).status, 204);
  });

  test("the secrets file is 0600 and the only file in the data dir holding a key", async () => {
    const secretsFile = path.join(dataDir, "secrets.json");
    if (process.platform !== "win32") assert.equal(fs.statSync(secretsFile).mode & 0o777, 0o600);
    const secrets = fs.readFileSync(secretsFile, "utf8");
    assert.ok(secrets.includes(UPSTREAM_KEY) && secrets.includes(HEADER_SECRET));
    assert.ok(!secrets.includes(WRONG_KEY), "replaced and deleted keys are gone");
    const providersFile = fs.readFileSync(path.join(dataDir, "providers.json"), "utf8");
    assert.match(providersFile, /"id": "up"/);
    const history = filesUnder(dataDir).filter((f) => path.basename(f).startsWith("history.sqlite"));
    assert.ok(history.length > 0, "the history database exists and was checked");
    for (const file of filesUnder(dataDir)) {
      if (file === secretsFile) continue;
      const bytes = fs.readFileSync(file);
      for (const secret of SECRETS) {
        assert.equal(
          bytes.includes(Buffer.from(secret, "utf8")),
          false,
          `${path.relative(dataDir, file)} contains a secret`,
        );
      }
    }
  });

  test("no log line and no /api or /v1 answer contains a key or a secret header value", async () => {
    const text = logs.text();
    assert.ok(text.includes('"provider":"up"'), "provider events were logged");
    for (const secret of SECRETS) {
      assert.equal(text.includes(secret), false, `the log contains ${secret.slice(0, 6)}...`);
      assert.equal(
        seen.some((body) => body.includes(secret)),
        false,
        `a response contains ${secret.slice(0, 6)}...`,
      );
    }
  });

  test("providers and keys survive a restart; DELETE removes the provider, its models and its secrets", async () => {
    await hearth.close();
    hearth = await startHearth(HEARTH_KEY, { parallel: 1, dataDir }, logs.logger);
    const view = (await call("/api/providers/up")).json as View;
    assert.equal(view.hasApiKey, true);
    assert.ok(
      await waitFor(async () => (await hearth.client.models.list()).data.some((m) => m.id === "up/stories260K")),
      "discovered again in the background",
    );
    const reply = await hearth.client.chat.completions.create({
      model: "up/stories260K",
      messages: user("After the restart"),
      max_tokens: 3,
    });
    assert.equal(reply.usage?.completion_tokens, 3);

    assert.equal((await call("/api/providers/up", { method: "DELETE" })).status, 204);
    assert.equal((await call("/api/providers/up")).status, 404);
    assert.ok(!(await hearth.client.models.list()).data.some((m) => m.id.startsWith("up/")));
    await assert.rejects(
      hearth.client.chat.completions.create({ model: "up/stories260K", messages: user("hi"), max_tokens: 2 }),
      (err: { status?: number }) => err.status === 404,
    );
    const secrets = fs.readFileSync(path.join(dataDir, "secrets.json"), "utf8");
    assert.ok(!secrets.includes(UPSTREAM_KEY) && !secrets.includes(HEADER_SECRET));
    assert.ok(!logs.text().includes(UPSTREAM_KEY));
  });
});
