import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay, parseReadyLine } from "../../electron/server-process.js";

describe("supervisor helpers", () => {
  test("the base URL comes from the server's ready line", () => {
    assert.equal(
      parseReadyLine("Hearth is ready at http://127.0.0.1:41234 (OpenAI API: http://127.0.0.1:41234/v1)"),
      "http://127.0.0.1:41234",
    );
    assert.equal(parseReadyLine("http://[::1]:8080/"), "http://[::1]:8080");
    assert.equal(parseReadyLine('{"level":30,"msg":"listening"}'), null);
    assert.equal(parseReadyLine(""), null);
  });

  test("restart delays double per recent crash and are capped", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 10].map((n) => backoffDelay(n, 500, 5_000)),
      [500, 1_000, 2_000, 4_000, 5_000],
    );
  });
});
