/** Small pieces of UI logic: routes, shortcuts, reply stats, model grouping, error hints. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ReplyAccumulator } from "../../renderer/src/api/chat-stream.js";
import { ApiError } from "../../renderer/src/api/errors.js";
import { parseHash, routeHref, type Route } from "../../renderer/src/app/route.js";
import { matchShortcut } from "../../renderer/src/app/shortcuts.js";
import { formatStats, thoughtFor } from "../../renderer/src/chat/MessageView.js";
import { groupModels, thinksOf } from "../../renderer/src/chat/ModelPicker.js";
import { toWire } from "../../renderer/src/chat/params.js";
import { movesToAnotherOrigin } from "../../renderer/src/providers/ProvidersView.js";

const key = (k: string, mods: Partial<Record<"ctrlKey" | "metaKey" | "shiftKey" | "altKey", boolean>> = {}) => ({
  key: k,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  altKey: false,
  ...mods,
});

describe("renderer logic", () => {
  test("routes round-trip through the hash", () => {
    const routes: Route[] = [
      { name: "chat", conversationId: null, messageId: null },
      { name: "chat", conversationId: "conv_a b/c", messageId: null },
      { name: "chat", conversationId: "conv_x", messageId: 17 },
      { name: "models" },
      { name: "providers" },
      { name: "server" },
      { name: "settings" },
    ];
    for (const r of routes) assert.deepEqual(parseHash(routeHref(r)), r);
    assert.deepEqual(parseHash("#/nowhere"), { name: "chat", conversationId: null, messageId: null });
    assert.deepEqual(parseHash("#/c/x?m=abc"), { name: "chat", conversationId: "x", messageId: null });
  });

  test("shortcuts use Cmd on macOS and Ctrl elsewhere", () => {
    assert.equal(matchShortcut(key("k", { ctrlKey: true }), false), "focusSearch");
    assert.equal(matchShortcut(key("k", { metaKey: true }), false), null);
    assert.equal(matchShortcut(key("k", { metaKey: true }), true), "focusSearch");
    assert.equal(matchShortcut(key("O", { ctrlKey: true, shiftKey: true }), false), "newChat");
    assert.equal(matchShortcut(key("o", { ctrlKey: true }), false), null, "Ctrl+O without Shift is the browser's");
    assert.equal(matchShortcut(key("Escape"), false), "stop");
    assert.equal(matchShortcut(key("k"), false), null);
    assert.equal(matchShortcut(key("k", { ctrlKey: true, altKey: true }), false), null);
  });

  test("reply stats: time to first token from the request, speed after the first token", () => {
    let now = 1000;
    const acc = new ReplyAccumulator(1000, () => now);
    now = 1250;
    acc.apply({
      model: "m",
      choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }],
    });
    assert.equal(acc.state.ttftMs, null, "an empty role chunk is not the first token");
    acc.apply({ choices: [{ index: 0, delta: { content: "Hel" }, logprobs: null, finish_reason: null }] });
    now = 2250;
    acc.apply({ choices: [{ index: 0, delta: { content: "lo" }, logprobs: null, finish_reason: "stop" }] });
    acc.apply({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 11, total_tokens: 16 } });
    const s = acc.finish();
    assert.equal(s.content, "Hello");
    assert.equal(s.ttftMs, 250);
    assert.equal(s.finishReason, "stop");
    assert.equal(s.completionTokens, 11);
    assert.equal(s.tokensPerSecond, 10);
    assert.deepEqual(formatStats(s), ["m", "11 tokens", "10.0 tok/s", "250 ms to first token"]);
  });

  test("a thinking reply: thoughts apart from the answer, timed from the first thought to the last", () => {
    let now = 1000;
    const acc = new ReplyAccumulator(1000, () => now);
    const delta = (d: { content?: string; reasoning_content?: string }) => ({
      choices: [{ index: 0, delta: d, logprobs: null, finish_reason: null }],
    });
    now = 1100;
    assert.equal(acc.apply(delta({ reasoning_content: "Let me " })), true, "a thought is a visible change");
    assert.equal(acc.state.ttftMs, 100, "the first thought is the first token");
    now = 3100;
    acc.apply(delta({ reasoning_content: "count." }));
    assert.equal(acc.state.reasoningMs, null, "still thinking");
    now = 3200;
    acc.apply(delta({ content: "Hello there!" }));
    const s = acc.finish();
    assert.deepEqual([s.reasoning, s.content, s.reasoningMs, s.deltas], ["Let me count.", "Hello there!", 2000, 3]);
    assert.equal(thoughtFor(s.reasoningMs), "Thought for 2 s");
    assert.equal(thoughtFor(40), "Thought for under 1 s");

    const cut = new ReplyAccumulator(0, () => now);
    cut.apply(delta({ reasoning_content: "Counting sheep" }));
    now = 3700;
    cut.apply(delta({ reasoning_content: " one" }));
    assert.equal(cut.finish().reasoningMs, 500, "a reply that ends while thinking is timed at its end");
    assert.equal(new ReplyAccumulator(0).finish().reasoningMs, null);
  });

  test("models group local first, then by provider", () => {
    const groups = groupModels([
      { id: "zeta/big", owned_by: "zeta" },
      { id: "stories260K", owned_by: "local" },
      { id: "alpha/gpt", owned_by: "alpha" },
    ]);
    assert.deepEqual([...groups.keys()], ["On this computer", "alpha", "zeta"]);
  });

  test("generation params map to OpenAI's field names, leaving unset ones to the server", () => {
    assert.deepEqual(toWire({ temperature: 0.2, topP: 0.9, maxTokens: 64, stop: [] }), {
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 64,
    });
    assert.deepEqual(toWire({ reasoningEffort: "none" }), { reasoning_effort: "none" });
  });

  test("errors say what to do next", () => {
    assert.match(new ApiError(0, "Cannot reach the Hearth server.").hint ?? "", /running/);
    assert.match(new ApiError(404, "x", { code: "model_not_found" }).hint ?? "", /Models page/);
    assert.equal(new ApiError(400, "bad").hint, null);
  });

  test("the provider form knows when a new address clears the saved key: another scheme, host or port", () => {
    const saved = "http://gpu-box:8000/v1";
    assert.equal(movesToAnotherOrigin(saved, "http://gpu-box:8000/other/v1"), false);
    assert.equal(movesToAnotherOrigin(saved, " http://GPU-BOX:8000/v1/ "), false);
    assert.equal(movesToAnotherOrigin(saved, "http://gpu-box:8001/v1"), true);
    assert.equal(movesToAnotherOrigin(saved, "https://gpu-box:8000/v1"), true);
    assert.equal(movesToAnotherOrigin(saved, "http://evil.example:8000/v1"), true);
    assert.equal(movesToAnotherOrigin(saved, "http://gpu"), true);
    assert.equal(movesToAnotherOrigin(saved, "not a url yet"), false);
  });
});

describe("settings through the desktop app", () => {
  test("a patch touching a guarding setting goes to the app's bridge; a cancel is null, a refusal an ApiError", async () => {
    const { settings, canChangeProtected } = await import("../../renderer/src/api/settings.js");
    const sent: unknown[] = [];
    let answer: { status: number; body: string } | null = null;
    const g = globalThis as { window?: unknown };
    g.window = {
      hearth: {
        saveSettings: async (patch: unknown) => (sent.push(patch), answer),
      },
    };
    try {
      assert.equal(canChangeProtected(), true);
      assert.equal(await settings.save({ host: "0.0.0.0" }, ["host"]), null, "cancelled");
      answer = { status: 200, body: JSON.stringify({ restartRequired: ["host"] }) };
      assert.deepEqual(await settings.save({ host: "0.0.0.0", threads: 2 }, ["host"]), { restartRequired: ["host"] });
      answer = {
        status: 400,
        body: JSON.stringify({
          error: { message: "needs a key", type: "invalid_request_error", code: "api_key_required" },
        }),
      };
      await assert.rejects(
        settings.save({ host: "0.0.0.0" }, ["host"]),
        (err: ApiError) => err instanceof ApiError && err.status === 400 && err.code === "api_key_required",
      );
      assert.deepEqual(sent, [{ host: "0.0.0.0" }, { host: "0.0.0.0", threads: 2 }, { host: "0.0.0.0" }]);
    } finally {
      delete g.window;
    }
    assert.equal(canChangeProtected(), false, "a browser on hearth serve cannot");
  });
  test("the Reasoning control is offered for a model that thinks, loaded or not yet", () => {
    const facts = (thinks: boolean) => ({ thinks }) as unknown as NonNullable<Parameters<typeof thinksOf>[0]>["facts"];
    const loaded = (thinks: boolean) =>
      ({ thinks }) as unknown as NonNullable<Parameters<typeof thinksOf>[0]>["loaded"];
    // Never loaded: the file says (the library scan), so a thinking model shows it before its first load.
    assert.equal(thinksOf({ loaded: null, facts: facts(true) }, undefined), true);
    assert.equal(thinksOf({ loaded: null, facts: facts(false) }, undefined), false);
    // Loaded: its chat format says, over the file (a chat template setting may change it).
    assert.equal(thinksOf({ loaded: loaded(false), facts: facts(true) }, undefined), false);
    assert.equal(thinksOf({ loaded: loaded(true), facts: facts(false) }, false), true);
    // Unloaded again: what was learned while loaded.
    assert.equal(thinksOf({ loaded: null, facts: facts(true) }, false), false);
    // A file that could not be read, a remote or unknown model: no control.
    assert.equal(thinksOf({ loaded: null, facts: null }, undefined), false);
    assert.equal(thinksOf(undefined, undefined), false);
  });
});
