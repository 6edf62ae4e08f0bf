/** Search-as-you-type: debounced, the newest query wins, blank queries search nothing. Timers are mocked, so nothing here depends on speed. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { SearchController } from "../../renderer/src/history/search-controller.js";
import { splitSnippet } from "../../renderer/src/history/snippet.js";

interface Call {
  query: string;
  signal: AbortSignal;
  resolve: (v: string) => void;
  reject: (e: unknown) => void;
}

function setup(delayMs = 150) {
  const calls: Call[] = [];
  const results: [string, string][] = [];
  const errors: [string, unknown][] = [];
  const pending: boolean[] = [];
  const controller = new SearchController<string>({
    delayMs,
    search: (query, signal) => new Promise<string>((resolve, reject) => calls.push({ query, signal, resolve, reject })),
    onResult: (q, r) => results.push([q, r]),
    onError: (q, e) => errors.push([q, e]),
    onPending: (p) => pending.push(p),
  });
  return { controller, calls, results, errors, pending };
}

const settle = () => new Promise<void>((r) => setImmediate(r));

describe("renderer search box controller", () => {
  test("keystrokes within the delay make one request, for the last text", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { controller, calls, results } = setup(150);
    controller.input("h");
    t.mock.timers.tick(100);
    controller.input("he");
    t.mock.timers.tick(100);
    controller.input("hel");
    t.mock.timers.tick(149);
    assert.equal(calls.length, 0, "nothing before the quiet time has passed");
    t.mock.timers.tick(1);
    assert.deepEqual(
      calls.map((c) => c.query),
      ["hel"],
    );
    calls[0]!.resolve("hits for hel");
    await settle();
    assert.deepEqual(results, [["hel", "hits for hel"]]);
  });

  test("a slow answer to an older query is dropped and its request aborted", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { controller, calls, results } = setup(150);
    controller.input("cat");
    t.mock.timers.tick(150);
    controller.input("cats");
    assert.equal(calls[0]!.signal.aborted, true, "the older request is aborted as soon as the text changes");
    t.mock.timers.tick(150);
    calls[1]!.resolve("new");
    calls[0]!.resolve("old");
    await settle();
    assert.deepEqual(results, [["cats", "new"]]);
  });

  test("clearing the box cancels the pending search and reports not pending", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { controller, calls, pending } = setup(150);
    controller.input("dog");
    controller.input("   ");
    t.mock.timers.tick(1000);
    assert.equal(calls.length, 0);
    assert.deepEqual(pending, [true, false]);
  });

  test("Enter searches at once", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { controller, calls, results } = setup(150);
    controller.input("fish");
    controller.flush("fish");
    assert.deepEqual(
      calls.map((c) => c.query),
      ["fish"],
    );
    t.mock.timers.tick(1000);
    assert.equal(calls.length, 1, "the debounced run was replaced, not added");
    calls[0]!.resolve("r");
    await settle();
    assert.deepEqual(results, [["fish", "r"]]);
  });

  test("an error reaches onError only for the newest query", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { controller, calls, errors } = setup(10);
    controller.input("a");
    t.mock.timers.tick(10);
    calls[0]!.reject(new Error("server down"));
    await settle();
    assert.equal(errors.length, 1);
    assert.equal((errors[0]![1] as Error).message, "server down");
    controller.input("b");
    t.mock.timers.tick(10);
    controller.input("bc");
    calls[1]!.reject(new Error("stale"));
    await settle();
    assert.equal(errors.length, 1, "the stale failure is not reported");
  });

  test("snippets split on the server's highlight sentinels", () => {
    assert.deepEqual(splitSnippet("a \uE000cat\uE001 and \uE000dog\uE001!"), [
      { text: "a ", match: false },
      { text: "cat", match: true },
      { text: " and ", match: false },
      { text: "dog", match: true },
      { text: "!", match: false },
    ]);
    assert.deepEqual(splitSnippet("<b>not html</b>"), [{ text: "<b>not html</b>", match: false }]);
  });
});
