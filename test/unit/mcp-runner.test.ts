/** The MCP runner's pure parts: a tool result as the text the model reads, and the bound on its size. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { functionNameOf } from "../../server/mcp/registry.js";
import { bound, resultText } from "../../server/mcp/runner.js";

test("a result's blocks become one text; images and audio by size only; structured content as JSON", () => {
  assert.equal(
    resultText({
      content: [
        { type: "text", text: "first" },
        { type: "image", mimeType: "image/png", data: "AAAA" },
        { type: "resource", resource: { uri: "file:///a.txt", text: "inside" } },
        { type: "resource", resource: { uri: "file:///b.bin", blob: "AAAA" } },
        { type: "resource_link", uri: "file:///c", name: "c" },
      ],
    }),
    "first\n[image image/png, 3 bytes, not shown]\ninside\n[resource file:///b.bin, not shown]\n[resource link file:///c (c)]",
  );
  assert.equal(resultText({ content: [], structuredContent: { sum: 3 } }), '{"sum":3}');
  assert.equal(resultText({}), "");
});

test("a text past the bound is cut with a note, never inside a surrogate pair", () => {
  assert.deepEqual(bound("short", 10), { text: "short", truncatedFrom: null });
  const cut = bound("abcdefghij", 4);
  assert.equal(cut.truncatedFrom, 10);
  assert.ok(cut.text.startsWith("abcd\n\n[Hearth cut this tool result at 4 of its 10 characters.]"));
  const fox = bound("ab🦊cd", 3); // the fox is two UTF-16 units at 2..3
  assert.ok(fox.text.startsWith("ab\n\n"), JSON.stringify(fox.text));
});

test("function names keep to what OpenAI accepts: [A-Za-z0-9_-], at most 64 characters", () => {
  assert.equal(functionNameOf("files", "read_text_file"), "files__read_text_file");
  assert.equal(functionNameOf("web", "search.v2/pages"), "web__search_v2_pages");
  assert.equal(functionNameOf("s", "x".repeat(100)).length, 64);
});
