/**
 * Named API keys and per-key rate limits through real HTTP (issue 20): keys are created over
 * /api/keys and shown once, stored only as hashes, scoped (an inference key gets 403 on /api),
 * revocable; limits answer with OpenAI's X-RateLimit-* headers and, over the limit, 429 with
 * Retry-After in the route's error format; one key's burst leaves another key alone.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { startTestServer, type TestServer } from "../helpers/server.js";

const MODEL = "stories260K";

interface Created {
  id: string;
  name: string;
  scope: string;
  rpm: number;
  tpm: number;
  key: string;
}

async function createKey(url: string, body: Record<string, unknown>, auth?: string): Promise<Created> {
  const res = await fetch(`${url}/api/keys`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as Created;
}

const get = (url: string, p: string, key?: string) =>
  fetch(`${url}${p}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });

const rateHeaders = (res: Response) =>
  Object.fromEntries([...res.headers].filter(([k]) => k.startsWith("x-ratelimit-") || k === "retry-after"));

describe("named keys on a loopback server without --api-key", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ parallel: 2 });
  });
  after(() => t.close());

  test("a key is shown once, stored as a hash in a 0600 file, and listed without its secret", async () => {
    const created = await createKey(t.url, { name: "laptop", scope: "inference", rpm: 0, tpm: 0 });
    assert.match(created.key, /^hk_[0-9a-f]{12}_[\w-]{43}$/);
    assert.equal(created.key.split("_")[1], created.id);
    const list = (await (await get(t.url, "/api/keys")).json()) as { data: Record<string, unknown>[] };
    const listed = list.data.find((k) => k.id === created.id);
    assert.deepEqual(
      { ...listed, createdAt: 0 },
      { id: created.id, name: "laptop", scope: "inference", rpm: 0, tpm: 0, createdAt: 0, lastUsedAt: null },
    );
    const file = path.join(t.dataDir, "keys.json");
    const text = fs.readFileSync(file, "utf8");
    assert.doesNotMatch(text, new RegExp(created.key.split("_")[2]!));
    if (process.platform !== "win32") assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    // A second key of the same name is refused, whatever its case.
    const dup = await fetch(`${t.url}/api/keys`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "LAPTOP" }),
    });
    assert.equal(dup.status, 400);
    assert.equal(((await dup.json()) as { error: { code: string } }).error.code, "duplicate_name");
  });

  test("an inference key chats on /v1 and /v1/messages, and gets 403 on /api and /metrics", async () => {
    const { key } = await createKey(t.url, { name: "phone", scope: "inference", rpm: 0, tpm: 0 });
    const openai = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: key, maxRetries: 0 });
    const chat = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Once" }],
      max_tokens: 4,
    });
    assert.equal(chat.object, "chat.completion");
    const anthropic = new Anthropic({ baseURL: t.url, apiKey: key, maxRetries: 0 });
    const msg = await anthropic.messages.create({
      model: MODEL,
      max_tokens: 4,
      messages: [{ role: "user", content: "Once" }],
    });
    assert.equal(msg.type, "message");
    for (const p of ["/api/keys", "/api/conversations", "/metrics"]) {
      const res = await get(t.url, p, key);
      assert.equal(res.status, 403, p);
      const body = (await res.json()) as { error: { type: string; code: string } };
      assert.equal(body.error.code, "insufficient_scope");
      assert.equal(body.error.type, "permission_error");
    }
  });

  test("an admin key manages keys; a revoked or mistyped key is refused, other tokens are ignored", async () => {
    const admin = await createKey(t.url, { name: "ops", scope: "admin", rpm: 0, tpm: 0 });
    const inference = await createKey(t.url, { name: "tablet", scope: "inference" }, admin.key);
    assert.equal((await get(t.url, "/v1/models", inference.key)).status, 200);
    const del = await fetch(`${t.url}/api/keys/tablet`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${admin.key}` },
    });
    assert.deepEqual(await del.json(), { id: inference.id, name: "tablet", deleted: true });
    const revoked = await get(t.url, "/v1/models", inference.key);
    assert.equal(revoked.status, 401);
    assert.equal(((await revoked.json()) as { error: { code: string } }).error.code, "invalid_api_key");
    // Anthropic's shape on /v1/messages.
    const anth = await fetch(`${t.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": inference.key },
      body: JSON.stringify({ model: MODEL, max_tokens: 1, messages: [{ role: "user", content: "x" }] }),
    });
    assert.equal(anth.status, 401);
    assert.equal(((await anth.json()) as { error: { type: string } }).error.type, "authentication_error");
    const typo = `${admin.key.slice(0, -1)}${admin.key.endsWith("A") ? "B" : "A"}`;
    assert.equal((await get(t.url, "/v1/models", typo)).status, 401);
    // Without --api-key a token that is not a Hearth key changes nothing on loopback (clients send "unused").
    assert.equal((await get(t.url, "/v1/models", "unused")).status, 200);
    assert.equal((await fetch(`${t.url}/api/keys/nope`, { method: "DELETE" })).status, 404);
  });
});

describe("the single --api-key next to named keys", () => {
  let t: TestServer;
  const apiKey = "the-one-admin-key";
  before(async () => {
    t = await startTestServer({ apiKey }, { withModel: false });
  });
  after(() => t.close());

  test("--api-key is an admin key; a named key works beside it; no key is refused even on loopback", async () => {
    assert.equal((await get(t.url, "/api/keys")).status, 401);
    const created = await createKey(t.url, { name: "ci", scope: "admin", rpm: 0, tpm: 0 }, apiKey);
    assert.equal((await get(t.url, "/api/keys", created.key)).status, 200);
    assert.equal((await get(t.url, "/metrics", created.key)).status, 200);
    assert.equal((await get(t.url, "/v1/models", "wrong-key")).status, 401);
  });
});

describe("rate limits", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ parallel: 2 });
  });
  after(() => t.close());

  test("a burst past rpm gets exact headers, then 429 with Retry-After; another key is unaffected", async () => {
    const a = await createKey(t.url, { name: "burst", scope: "inference", rpm: 3, tpm: 0 });
    const b = await createKey(t.url, { name: "calm", scope: "inference", rpm: 3, tpm: 0 });
    const seen: Record<string, string>[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await get(t.url, "/v1/models", a.key);
      assert.equal(res.status, 200);
      seen.push(rateHeaders(res));
    }
    assert.deepEqual(
      seen.map((h) => [h["x-ratelimit-limit-requests"], h["x-ratelimit-remaining-requests"]]),
      [
        ["3", "2"],
        ["3", "1"],
        ["3", "0"],
      ],
    );
    for (const h of seen) {
      // OpenAI's duration format; the window empties a minute after the latest request.
      assert.match(h["x-ratelimit-reset-requests"]!, /^(59(\.\d+)?s|1m0s)$/);
      assert.equal(h["x-ratelimit-limit-tokens"], undefined, "no token headers without a token limit");
    }
    const over = await get(t.url, "/v1/models", a.key);
    assert.equal(over.status, 429);
    const h = rateHeaders(over);
    assert.equal(h["x-ratelimit-limit-requests"], "3");
    assert.equal(h["x-ratelimit-remaining-requests"], "0");
    const retry = Number(h["retry-after"]);
    assert.ok(retry >= 59 && retry <= 60, `Retry-After ${retry}`);
    const body = (await over.json()) as { error: { type: string; code: string; message: string } };
    assert.equal(body.error.code, "rate_limit_exceeded");
    assert.match(body.error.message, /3 requests per minute/);
    // The same key on /v1/messages: Anthropic's error shape, the same headers.
    const anth = await fetch(`${t.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": a.key },
      body: JSON.stringify({ model: MODEL, max_tokens: 1, messages: [{ role: "user", content: "x" }] }),
    });
    assert.equal(anth.status, 429);
    assert.equal(anth.headers.get("x-ratelimit-remaining-requests"), "0");
    assert.ok(anth.headers.get("retry-after"));
    assert.deepEqual(((await anth.json()) as { type: string; error: { type: string } }).error.type, "rate_limit_error");
    // The other key still has its whole minute.
    const calm = await get(t.url, "/v1/models", b.key);
    assert.equal(calm.status, 200);
    assert.equal(calm.headers.get("x-ratelimit-remaining-requests"), "2");
    // The official client sees a RateLimitError.
    const openai = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: a.key, maxRetries: 0 });
    await assert.rejects(openai.models.list(), (err: unknown) => err instanceof OpenAI.RateLimitError);
  });

  test("a request that falls through from /v1/messages to /v1 counts once", async () => {
    const k = await createKey(t.url, { name: "once", scope: "inference", rpm: 5, tpm: 0 });
    const res = await fetch(`${t.url}/v1/messages/no-such-route`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": k.key },
      body: "{}",
    });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get("x-ratelimit-remaining-requests"), "4");
    assert.equal((await get(t.url, "/v1/models", k.key)).headers.get("x-ratelimit-remaining-requests"), "3");
  });

  test("tokens per minute count what generations used; loopback without a key is never limited", async () => {
    const k = await createKey(t.url, { name: "tokens", scope: "inference", rpm: 0, tpm: 20 });
    const openai = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: k.key, maxRetries: 0 });
    const first = await openai.chat.completions
      .create({ model: MODEL, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 16 })
      .withResponse();
    assert.equal(first.response.headers.get("x-ratelimit-limit-tokens"), "20");
    assert.equal(first.response.headers.get("x-ratelimit-remaining-tokens"), "20");
    const used = first.data.usage!.prompt_tokens + first.data.usage!.completion_tokens;
    assert.ok(used >= 20, `the first request used ${used} tokens`);
    const over = await get(t.url, "/v1/models", k.key);
    assert.equal(over.status, 429);
    assert.equal(over.headers.get("x-ratelimit-remaining-tokens"), "0");
    assert.match(((await over.json()) as { error: { message: string } }).error.message, /20 tokens per minute/);
    // Anonymous loopback requests carry no limit and no headers.
    for (let i = 0; i < 5; i++) {
      const res = await get(t.url, "/v1/models");
      assert.equal(res.status, 200);
      assert.deepEqual(rateHeaders(res), {});
    }
  });
});

describe("limits for this machine's callers without a key (--local-rpm)", () => {
  let t: TestServer;
  const uiToken = "the-desktop-window-token-0123456789";
  before(async () => {
    t = await startTestServer({ localRpm: 2, uiToken }, { withModel: false });
  });
  after(() => t.close());

  test("loopback without a key is limited when configured; the desktop window never is", async () => {
    const first = await get(t.url, "/v1/models");
    assert.equal(first.headers.get("x-ratelimit-limit-requests"), "2");
    assert.equal(first.headers.get("x-ratelimit-remaining-requests"), "1");
    assert.equal((await get(t.url, "/v1/models")).status, 200);
    assert.equal((await get(t.url, "/v1/models")).status, 429);
    for (let i = 0; i < 4; i++) {
      const res = await get(t.url, "/v1/models", uiToken);
      assert.equal(res.status, 200);
      assert.deepEqual(rateHeaders(res), {});
    }
  });
});
